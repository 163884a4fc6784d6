"""
Settings shared by every environment, read from the environment.

The module that imports this one has already loaded its env file (see __init__.py).
https://django-environ.readthedocs.io/
"""

import environ

from . import PROJECT_DIR as BASE_DIR

env = environ.Env()

# GENERAL
# ------------------------------------------------------------------------------
PROJECT_NAME = "{{ cookiecutter.project_name }}"
# What the sample API, {{ cookiecutter.project_slug }}/api/views.py, is written with: "none" (plain
# Django) or "drf" (Django REST framework), chosen when the project was made (docs/api.md).
API_FRAMEWORK = "{{ cookiecutter.api_framework }}"
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = env("DJANGO_TIME_ZONE", default="{{ cookiecutter.time_zone }}")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///db.sqlite3")}
# Every view runs in a transaction unless its declared policy says it only reads, or opens its
# own (authserver/view_policy.py: read_only, own_transactions: the token endpoint's), so that no
# write path, today's or one added later, can run outside one. See docs/performance.md.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Persistent, health-checked connections, on SQLite too: opening one and re-running its
# set-up pragmas costs about a third of a bearer-token check.
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A relative SQLite path is relative to the project folder, not the shell's; an in-memory
    # database (sqlite://:memory:) is no path at all.
    if DATABASES["default"]["NAME"] != ":memory:":
        DATABASES["default"]["NAME"] = str(BASE_DIR / DATABASES["default"]["NAME"])
    # Several requests may write at once (token issuance, rotation): WAL lets readers
    # go on while one writer works, and IMMEDIATE takes the write lock up front so a
    # transaction never fails half-way with "database is locked".
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that drops packets would otherwise hold a request until the OS gives up
    # on the connection (minutes): a few seconds, then 503 (docs/operations.md).
    # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DJANGO_DB_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# CACHES
# ------------------------------------------------------------------------------
# Memory of each worker process by default. Anything that must agree across workers
# (throttling counters) needs a shared cache: CACHE_URL=redis://127.0.0.1:6379/0.
# redis:// always means Django's own backend: django-environ would pick django-redis
# whenever that package happens to be installed.
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis
CACHE_URL = env("CACHE_URL", default="locmemcache://")
REDIS_CACHE_BACKEND = "django.core.cache.backends.redis.RedisCache"
CACHES = {
    "default": env.cache_url_config(
        CACHE_URL, backend=REDIS_CACHE_BACKEND if CACHE_URL.startswith(("redis:", "rediss:")) else None
    )
}
if CACHES["default"]["BACKEND"] == REDIS_CACHE_BACKEND:
    # A Redis on a LAN answers in a millisecond: one that does not within these seconds is down,
    # and each use of the cache then follows its policy (docs/operations.md) instead of
    # holding the request. redis-py retries nothing by default, and reconnects on the next use.
    # https://redis.readthedocs.io/en/stable/connections.html#redis.connection.Connection
    CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.5)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=CACHE_TIMEOUT_SECONDS, socket_timeout=CACHE_TIMEOUT_SECONDS
    )

# URLS
# ------------------------------------------------------------------------------
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# DEMO PAGES
# ------------------------------------------------------------------------------
# /demo/callback/, where the seeded demo client lands, shows whatever code or error text it is
# sent, on this server's own origin: a page for trying the server out, so 404 unless turned on
# (the local settings do).
DEMO_PAGES_ENABLED = env.bool("DEMO_PAGES_ENABLED", default=False)
# The protected resource the demo calls with its access token: a path on this server, or a URL.
DEMO_RESOURCE = "/api/me/"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The sessions page (allauth's usersessions) says "3 hours ago".
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "oauth2_provider",
    # Sign-in, e-mail, passwords, second factors and sessions: see ACCOUNTS below.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
]
if API_FRAMEWORK == "drf":
    THIRD_PARTY_APPS.append("rest_framework")
# The engine (authserver/: the OAuth and OpenID Connect endpoints, the middleware, the client
# and token models, the account pages' templates), ahead of allauth and DOT so that its
# templates are the ones rendered; copy one to templates/ to change it.
ENGINE_APPS = ["authserver"]
LOCAL_APPS = [
    "{{ cookiecutter.project_slug }}.users",
    # Your own apps here.
]
INSTALLED_APPS = DJANGO_APPS + ENGINE_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# AUTHENTICATION
# ------------------------------------------------------------------------------
# A custom user model from day one: adding profile fields or OIDC claims later
# needs no model swap. https://docs.djangoproject.com/en/5.2/topics/auth/customizing/
AUTH_USER_MODEL = "users.User"
# django-allauth's sign-in page (ACCOUNTS below); Django's own backend stays first for the admin's
# createsuperuser, the shell and the tests' force_login.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# User passwords use Django's default (PBKDF2). The last entry is only for OAuth
# client secrets, see CLIENT_SECRET_HASHER below; it is never used for passwords
# because Django always hashes new passwords with the first entry.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "authserver.hashers.ClientSecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
# The engine's middleware (authserver/middleware/) reads what each view declares it needs
# (authserver/view_policy.py): no-store, JSON errors, throttling, CSP exceptions.
MIDDLEWARE = [
    # First, so that every log line of the request, and every response, carries its id.
    "authserver.middleware.request_logging.RequestIDMiddleware",
    # Next, so that every answer carries the Content-Security-Policy, the error pages of a request
    # refused before any view (a Host not allowed, a CSRF check that fails) included.
    "authserver.middleware.security_headers.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The route, resolved here so that the middleware of the browser session below runs only for
    # the views whose policy has a session (pages), not for clients, resource servers and probes.
    "authserver.middleware.sessions.RouteMiddleware",
    "authserver.middleware.sessions.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "authserver.middleware.sessions.AuthenticationMiddleware",
    "authserver.middleware.sessions.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # allauth's sign-in stages, and the list of each user's sessions (the "Sessions" page).
    "allauth.account.middleware.AccountMiddleware",
    "authserver.middleware.sessions.UserSessionsMiddleware",
    "authserver.middleware.security_headers.NoStoreMiddleware",
    "authserver.middleware.json_errors.JSONErrorsMiddleware",
    "authserver.middleware.throttling.BruteForceThrottleMiddleware",
    # Last: a view that finds the database down answers 503, not 500 (docs/operations.md).
    "authserver.middleware.outages.DatabaseOutageMiddleware",
]

# STATIC FILES
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "authserver.context_processors.server",
                "authserver.context_processors.passkeys",
            ],
        },
    },
]

# SECURITY
# ------------------------------------------------------------------------------
# The session is the user's sign-in at every client: 8 hours, a working day, so a user signs in
# once a day and a forgotten browser's sign-in does not outlive it (Django's default is two
# weeks; NIST SP 800-63B §4.2.3 asks for a new sign-in every 12 hours at AAL2). Clients that
# need a fresher one ask with max_age or prompt=login.
# https://docs.djangoproject.com/en/5.2/ref/settings/#session-cookie-age
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 60 * 60)
# Lax, not Strict: an authorization request is a navigation from the client's site, which must
# carry the session or the user would sign in at every request.
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# A form whose CSRF check fails gets a page that says what to do next (authserver/errors.py).
CSRF_FAILURE_VIEW = "authserver.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Sent with every response by authserver/middleware/security_headers.py. The pages load
# scripts and styles from this site only (none inline), never in a frame (RFC 9700 §4.16),
# and their forms submit here; the consent and logout pages add the client they redirect to.
# https://www.w3.org/TR/CSP3/
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# ACCOUNTS
# ------------------------------------------------------------------------------
# django-allauth is the sign-in: by username or e-mail address, sign-out, password reset by
# e-mail, e-mail verification, password change, second factors (TOTP, WebAuthn security keys
# and passkeys, recovery codes) and each user's list of sessions, all under /accounts/.
# See docs/accounts.md. https://docs.allauth.org/en/latest/account/configuration.html
# Extension point: subclass authserver.accounts.AccountAdapter in your package to change more.
ACCOUNT_ADAPTER = "authserver.accounts.AccountAdapter"
# The sessions page's "sign out the others" also revokes what their sign-ins granted clients.
USERSESSIONS_ADAPTER = "authserver.accounts.UserSessionsAdapter"
# Staff open /admin/ only with a second factor, enrolled on their first visit (authserver/admin_access.py).
# On by default in production; here off, for a first look round a new bake.
ADMIN_REQUIRES_MULTI_FACTOR = env.bool("ADMIN_REQUIRES_MULTI_FACTOR", default=False)
# An address another account uses cannot be added (authserver/accounts.py).
ACCOUNT_FORMS = {"login": "authserver.accounts.LoginForm", "add_email": "authserver.accounts.AddEmailForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
# An organisation's server usually invites its users (the admin creates them): open sign-up is
# off unless ACCOUNT_ALLOW_SIGNUPS says otherwise (authserver/accounts.py).
ACCOUNT_ALLOW_SIGNUPS = env.bool("ACCOUNT_ALLOW_SIGNUPS", default=False)
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Anyone may sign up when it is open, so an address is theirs only once they prove it: signing in
# needs a verified address then, and so does authorising a client (ServerAdapter). Closed,
# an invited user's address is verified when they first follow a reset or verification link.
ACCOUNT_EMAIL_VERIFICATION = "mandatory" if ACCOUNT_ALLOW_SIGNUPS else "optional"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{PROJECT_NAME}] "
# The session lasts SESSION_COOKIE_AGE (below), with no "remember me" box to shorten it.
ACCOUNT_SESSION_REMEMBER = True
# A reset or verification page shows no one whether an address has an account.
ACCOUNT_PREVENT_ENUMERATION = True
# Second factors: an authenticator app (RFC 6238 TOTP), WebAuthn security keys and passkeys,
# and one-time recovery codes; a passkey also signs in on its own.
# https://docs.allauth.org/en/latest/mfa/configuration.html
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
# allauth keeps second factors from accounts whose address nobody proved, lest someone who signed
# up with another's address lock them out. Here such accounts cannot sign in when sign-up is
# open (ACCOUNT_EMAIL_VERIFICATION), and when it is closed the administrator created them.
MFA_ALLOW_UNVERIFIED_EMAIL = True
MFA_TOTP_ISSUER = PROJECT_NAME
# The code that enrols an authenticator app is spent, like the codes of sign-ins (authserver/accounts.py).
MFA_FORMS = {"activate_totp": "authserver.accounts.ActivateTOTPForm"}
# Recovery codes are shown once, when made, then only counted: a session someone else takes
# over later cannot read them off the page (new ones can be made, which voids the old).
MFA_RECOVERY_CODES_SHOW_ONCE = True
# WebAuthn needs https, or http on localhost in the local settings.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False

# E-MAIL
# ------------------------------------------------------------------------------
# Password resets and address verification. EMAIL_URL is one URL, e.g.
# smtp+tls://user:password@smtp.example.com:587 (smtp+ssl:// for port 465, smtp:// for none);
# the local settings print e-mails to the console instead, production requires it.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url_config(EMAIL_URL))
# A network that drops packets would otherwise hold the request that sends until the OS gives up.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@{{ cookiecutter.domain_name }}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# BRUTE-FORCE THROTTLING
# ------------------------------------------------------------------------------
# Sign-ins, second factors, password resets and verification e-mails: allauth's rate limits,
# counted in the cache; at a limit, the form says so (failed sign-ins) or 429. A limit is
# "<count>/<period>/<per>": per ip (address; an IPv6 /64 counts as one), key (the account, or the
# e-mail address) or user. https://docs.allauth.org/en/latest/account/rate_limits.html
# Failed sign-ins per address and per account (the typed username or address, lowercased; a
# second factor's failures per account too). An address is stopped after 10 failures, a fifth of
# the account's 50: one address cannot pause an account for its user (it takes five), while 50
# guesses per 15 minutes stay far from enough for a 12-character password (NIST SP 800-63B
# §5.2.2). The cost: an address many people share (an office's NAT) shares its 10. See
# docs/security.md#sign-in-limits-what-an-attacker-can-and-cannot-do.
ACCOUNT_RATE_LIMITS = {
    # Every sign-in form answered, right or wrong, per address.
    "login": env.str("ACCOUNT_RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env.str("ACCOUNT_RATE_LIMIT_LOGIN_FAILED", default="10/15m/ip,50/15m/key"),
    "reset_password": env.str("ACCOUNT_RATE_LIMIT_RESET_PASSWORD", default="20/m/ip,5/m/key"),
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# Passkey sign-ins, which have no account to count against: per address.
MFA_RATE_LIMITS = {"webauthn_login": "10/m/ip"}
# Failed client authentications at the token, revocation and introspection endpoints (per
# client_id and per IP address), wrong user codes at the device page (per user and per IP
# address: RFC 8628 §5.1) and registrations made: the project's own, counted in the cache over
# fixed windows; at a limit, 429 with Retry-After until the window ends. allauth covers none of
# these. See authserver/middleware/throttling.py and docs/security.md.
# Several workers need a shared CACHE_URL, for these and allauth's alike.
THROTTLE_WINDOW_SECONDS = env.int("THROTTLE_WINDOW_SECONDS", default=15 * 60)
THROTTLE_CLIENT_FAILURES_PER_CLIENT = env.int("THROTTLE_CLIENT_FAILURES_PER_CLIENT", default=10)
THROTTLE_CLIENT_FAILURES_PER_IP = env.int("THROTTLE_CLIENT_FAILURES_PER_IP", default=50)
THROTTLE_USER_CODE_FAILURES_PER_USER = env.int("THROTTLE_USER_CODE_FAILURES_PER_USER", default=5)
THROTTLE_USER_CODE_FAILURES_PER_IP = env.int("THROTTLE_USER_CODE_FAILURES_PER_IP", default=20)
# Client registrations made (RFC 7591, with MCP_READY on): each one is a row anyone may add.
THROTTLE_REGISTRATIONS_PER_IP = env.int("THROTTLE_REGISTRATIONS_PER_IP", default=20)
# The request.META key with the client's address: behind a proxy, the header it sets, e.g.
# HTTP_X_FORWARDED_FOR (its last entry counts). Otherwise every client shares the proxy's. Both
# the project's limits and allauth's read the address this way (authserver/accounts.py), not with
# allauth's ALLAUTH_TRUSTED_PROXY_COUNT, which would believe the header from anyone.
THROTTLE_IP_HEADER = env("THROTTLE_IP_HEADER", default="REMOTE_ADDR")
# The header counts only on a connection from one of these proxies (addresses, or `*` where
# nothing else can reach the port): anyone else could write any address into it. The same
# variable tells gunicorn whose X-Forwarded-Proto to believe (gunicorn.conf.py).
THROTTLE_TRUSTED_PROXIES = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])

# LOGGING
# ------------------------------------------------------------------------------
# Every line carries the id of the request it belongs to; production writes JSON lines.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "authserver.middleware.request_logging.RequestIDFilter"},
        "path_only": {"()": "authserver.middleware.request_logging.QueryStringFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "authserver.middleware.request_logging.JSONFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # At DEBUG both write authorization codes and tokens into the log (oauthlib's
        # "Created authorization code grant", DOT's "Success url for the request"), so they
        # stay at INFO whatever DJANGO_LOG_LEVEL says.
        **{name: {"level": "INFO"} for name in ("oauthlib", "oauth2_provider")},
        # runserver's line for each request: its path only, as in production, since the query
        # string carries codes, state and id_token_hint.
        "django.server": {"handlers": ["console"], "filters": ["path_only"], "propagate": False},
    },
}

# OAUTH 2.1 AND OPENID CONNECT (django-oauth-toolkit)
# ------------------------------------------------------------------------------
# Extension point: your server's decisions (claims, consent, sign-in, acr levels) are the
# methods of this class, a subclass of authserver.adapter.DefaultServerAdapter. docs/customising.md
OAUTH_SERVER_ADAPTER = "{{ cookiecutter.project_slug }}.adapter.ServerAdapter"
# https://django-oauth-toolkit.readthedocs.io/en/latest/settings.html
#
# The application model is swapped from day one (docs/layout.md) so clients can carry fields
# of your own without a painful mid-project migration.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth.Application"

# Scopes come from the environment: `OAUTH_SCOPES=name=Description,name2=Description`.
# `openid`, `profile` and `email` are always offered: they drive OIDC Core's
# standard claims. https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims
OIDC_SCOPES = {
    "openid": "Sign you in with your account",
    "profile": "See your name and username",
    "email": "See your email address",
}
# The scopes this project was baked with, used when .env names none.
SAMPLE_SCOPES = "{{ cookiecutter.oauth_scopes }}"
OAUTH_APP_SCOPES = {
    name.strip(): description.strip()
    for name, description in env.dict("OAUTH_SCOPES", default=env.parse_value(SAMPLE_SCOPES, dict)).items()
}
OAUTH_SCOPES = {**OIDC_SCOPES, **OAUTH_APP_SCOPES}
# Granted when a client asks for no scope at all (RFC 6749 §3.3).
OAUTH_DEFAULT_SCOPES = [
    name.strip() for name in env.list("OAUTH_DEFAULT_SCOPES", default=list(OAUTH_APP_SCOPES)[:1])
]

# The issuer identifier (OIDC Core 1.0 §2: `iss` must be stable), and the origin of e-mailed links
# and of the demo's calls. Unset, it is the origin of each request, which the Host header decides:
# the generated .env pins runserver's, production requires one.
OAUTH_ISSUER = env("OAUTH_ISSUER", default="")

# The OIDC signing key: PEM text in OIDC_RSA_PRIVATE_KEY, or a file (created by
# `manage.py create_oidc_key`). Every worker must sign with the same key. Keys replaced by
# `manage.py rotate_oidc_key` stay published in the JWKS, so ID tokens they signed still
# verify until they expire; `manage.py retire_oidc_keys` removes them; a key staged beside the active
# one (`rotate_oidc_key --stage`) is published before it signs. Where keys live in the
# environment, OIDC_RSA_PRIVATE_KEYS_INACTIVE holds their PEM texts one after the other.
# authserver/signing_keys.py loads them all when the app starts. See docs/deploy.md.
OIDC_RSA_PRIVATE_KEY_FILE = BASE_DIR / env("OIDC_RSA_PRIVATE_KEY_FILE", default="keys/oidc.key")
OIDC_INACTIVE_KEYS_DIR = OIDC_RSA_PRIVATE_KEY_FILE.parent / "inactive"

# RFC 8707 resource indicators: the resources a token may be bound to with `resource`, comma
# separated: absolute URIs, or paths on the issuer's origin. Any other is invalid_target
# (authserver/resources.py). Unset or empty: the sample API, /api/me/.
OAUTH_RESOURCES = env.list("OAUTH_RESOURCES", default=[]) or ["/api/me/"]

# MCP AND AGENTS
# ------------------------------------------------------------------------------
# MCP clients and other agents register themselves (RFC 7591 dynamic client registration,
# RFC 7592 management), or name the https URL of their metadata as client_id (Client ID Metadata
# Documents), under the policy of authserver/endpoints/registration.py: public clients with
# loopback or https redirect URIs, authorization code and refresh tokens only. See docs/mcp.md.
# `manage.py cleanregistrations` removes registrations left unused.
MCP_READY = env.bool("MCP_READY", default={{ "True" if cookiecutter.mcp_ready == "y" else "False" }})
# Days a registered client may go without any live token or code before cleanregistrations removes it.
OAUTH_REGISTRATION_UNUSED_DAYS = env.int("OAUTH_REGISTRATION_UNUSED_DAYS", default=30)

# Days the audit trail (authserver/audit.py) keeps each security event; `cleartokens` deletes
# older ones. See docs/operations.md.
OAUTH_AUDIT_RETENTION_DAYS = env.int("OAUTH_AUDIT_RETENTION_DAYS", default=365)

# Access tokens: opaque random strings (the default), or JWTs a resource server can verify on its
# own (RFC 9068), signed with the OIDC key (authserver/access_tokens.py). Either is stored hashed,
# introspected and revoked the same way. https://www.rfc-editor.org/rfc/rfc9068
OAUTH_ACCESS_TOKEN_FORMAT = env.str("OAUTH_ACCESS_TOKEN_FORMAT", default="opaque")
ACCESS_TOKEN_GENERATORS = {"opaque": None, "jwt": "authserver.access_tokens.generate"}
# Any other format is a system check error (oauth.E004): `check`, `migrate` and runserver stop on it.

# Seconds each worker may reuse an access token it has validated, without the database lookup,
# as long as nothing that could invalidate a token has changed since, anywhere: every request
# checks (authserver/token_cache.py), so a revocation is still refused on the very next request.
# 0 turns the cache off. See docs/performance.md.
OAUTH_TOKEN_CACHE_SECONDS = env.float("OAUTH_TOKEN_CACHE_SECONDS", default=10)

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": OAUTH_ISSUER,
    # Filled from the sources above by authserver/signing_keys.py unless given here.
    "OIDC_RSA_PRIVATE_KEY": env.str("OIDC_RSA_PRIVATE_KEY", multiline=True, default=""),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": env.str("OIDC_RSA_PRIVATE_KEYS_INACTIVE", multiline=True, default=""),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ],
    # RFC 8628 §3.2: the absolute URL a device tells its user to open. None builds it per
    # request: /o/device/ on the issuer's origin (authserver/endpoints/device.py). A shorter URL of
    # your own must lead to that page.
    "OAUTH_DEVICE_VERIFICATION_URI": None,
    # RFC 8628 §3.2, §3.5: seconds a device waits between polls; sooner gets slow_down, and 5
    # seconds more to wait from then on (authserver/device_codes.py).
    "DEVICE_FLOW_INTERVAL": env.int("OAUTH_DEVICE_FLOW_INTERVAL", default=5),
    # The request flows view -> backend -> server -> validator: docs/layout.md.
    "OAUTH2_BACKEND_CLASS": "authserver.server.OAuthLibCore",
    "OIDC_SERVER_CLASS": "authserver.server.Server",
    "OAUTH2_VALIDATOR_CLASS": "authserver.validator.Validator",
    # The client admin with the project's per-client policies in its list (authserver/application_admin.py).
    "APPLICATION_ADMIN_CLASS": "authserver.application_admin.ApplicationAdmin",
    "SCOPES": OAUTH_SCOPES,
    "DEFAULT_SCOPES": OAUTH_DEFAULT_SCOPES,
    "ACCESS_TOKEN_GENERATOR": ACCESS_TOKEN_GENERATORS.get(OAUTH_ACCESS_TOKEN_FORMAT),
    # Refresh tokens stay opaque, whatever the access tokens are (oauthlib would use the same generator).
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    # Lifetimes in seconds. Short-lived access tokens limit the damage of a leak
    # (RFC 9700 §2.2); DOT's own default is 10 hours.
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS", default=300),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ID_TOKEN_EXPIRE_SECONDS", default=300),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_REFRESH_TOKEN_EXPIRE_SECONDS", default=14 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": env.int("OAUTH_AUTHORIZATION_CODE_EXPIRE_SECONDS", default=60),
    # `manage.py cleartokens` (run it on a schedule, see docs/deploy.md) deletes expired rows in
    # batches, pausing between them, so a large backlog never locks the tables for long.
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": env.int("OAUTH_CLEAR_EXPIRED_TOKENS_BATCH_SIZE", default=10000),
    "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": env.float(
        "OAUTH_CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL", default=0.1
    ),
    # Refresh tokens rotate on every use, and replaying an old one revokes the
    # whole family (RFC 9700 §4.14.2).
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    # PKCE with S256 for every authorization code (RFC 9700 §2.1.1).
    "PKCE_REQUIRED": True,
    # Redirect URIs must use https (RFC 9700 §2.1); local settings relax this.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    # Every RFC 9700 gate on: https://www.rfc-editor.org/rfc/rfc9700
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # https://django-oauth-toolkit.readthedocs.io/en/latest/dynamic_client_registration.html
    "DCR_ENABLED": MCP_READY,
    # Open registration: authserver/endpoints/registration.py lets register only what its policy allows.
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    # RFC 7592 §1.3: a registration access token expires when an unused registration would be
    # removed; each update replaces it with a new one (DOT's DCR_ROTATE_REGISTRATION_TOKEN_ON_UPDATE).
    "DCR_REGISTRATION_TOKEN_EXPIRE_SECONDS": OAUTH_REGISTRATION_UNUSED_DAYS * 24 * 3600,
    # https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/
    "CIMD_ENABLED": MCP_READY,
    # DOT's SSRF-hardened fetch (https, public addresses only, no redirects, bounded time and
    # size), then the same registration policy on the document (authserver/endpoints/registration.py).
    "CIMD_METADATA_FETCHER": "authserver.endpoints.registration.ClientMetadataFetcher",
    # A client first known by its document counts as a registration of the address that named it
    # (THROTTLE_REGISTRATIONS_PER_IP).
    "CIMD_REGISTRATION_PERMISSION_CLASSES": ("authserver.endpoints.registration.RegistrationsPerAddress",),
    # Client secrets are long random strings, so key stretching buys nothing and
    # would cost ~0.5-1 s of CPU on every token request.
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
}

# REST FRAMEWORK (API_FRAMEWORK = "drf")
# ------------------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
# https://django-oauth-toolkit.readthedocs.io/en/latest/rest-framework/getting_started.html
if API_FRAMEWORK == "drf":
    REST_FRAMEWORK = {
        # Bearer tokens only: a session cookie authenticating API calls would make them
        # cross-site-forgeable. The challenges name the RFC 9728 metadata document.
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "oauth2_provider.contrib.rest_framework.OAuth2ProtectedResourceAuthentication",
        ],
        # Closed by default: every view says which scopes it needs (required_scopes), or
        # fails loudly without them.
        "DEFAULT_PERMISSION_CLASSES": ["oauth2_provider.contrib.rest_framework.TokenHasScope"],
        # JSON only: the browsable API's HTML pages expect a session sign-in, which the API
        # does not take.
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    }
