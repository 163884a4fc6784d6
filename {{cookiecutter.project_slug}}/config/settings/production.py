"""
Settings for production. Read the real environment and the file DJANGO_ENV_FILE names, never
`.env`; refuse to start without a secret key, the host list, a database and an https issuer.

Run `manage.py check --deploy --fail-level WARNING` with these settings before every release.
https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from . import load_env_file

load_env_file()

from .base import *  # noqa: E402, F403
from .base import LOGGING, MIDDLEWARE, OAUTH2_PROVIDER, OAUTH_ISSUER, env  # noqa: E402

# REQUIRED
# ------------------------------------------------------------------------------
# Base's defaults suit a laptop (SQLite in the project folder, the issuer of each request's
# Host header): production starts only once each of these is given. See docs/deploy.md.
REQUIRED_VARIABLES = {
    "DJANGO_SECRET_KEY": "50+ random characters",
    "DJANGO_ALLOWED_HOSTS": "the host names clients use, comma-separated",
    "DATABASE_URL": "postgres://...",
    "OAUTH_ISSUER": "https://<your domain>",
    # Password resets and e-mail verification: without it they would be printed to a log.
    "EMAIL_URL": "smtp+tls://user:password@smtp.example.com:587",
}
MISSING_VARIABLES = [name for name in REQUIRED_VARIABLES if not env.str(name, default="").strip()]
if MISSING_VARIABLES:
    raise ImproperlyConfigured(
        "Production settings need "
        + "; ".join(f"{name} ({REQUIRED_VARIABLES[name]})" for name in MISSING_VARIABLES)
        + ". Set them in the environment or in the file DJANGO_ENV_FILE names; production never reads .env."
    )
# OIDC Discovery 1.0 §3 and RFC 8414 §2: the issuer is an https URL.
if urlsplit(OAUTH_ISSUER).scheme != "https" or not urlsplit(OAUTH_ISSUER).netloc:
    raise ImproperlyConfigured(f"OAUTH_ISSUER is {OAUTH_ISSUER!r}: production needs https://<your domain>.")

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS
# ------------------------------------------------------------------------------
# Behind a TLS-terminating proxy, gunicorn takes the scheme from X-Forwarded-Proto, but only on
# connections from FORWARDED_ALLOW_IPS (gunicorn.conf.py): leave DJANGO_SECURE_PROXY_SSL_HEADER
# off with it. The setting makes Django believe that header from any client, so set it only
# behind another server, where nothing but the proxy can reach the port.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers and orchestrators probe the workers over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# A __Host- cookie is taken by browsers only when Secure, for Path=/ and without a Domain, so
# no other host (a sibling subdomain) and no plain-http page can set or overwrite it.
# https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

# ACCOUNTS
# ------------------------------------------------------------------------------
# Staff need a second factor for /admin/ (authserver/admin_access.py); false only for a good reason.
ADMIN_REQUIRES_MULTI_FACTOR = env.bool("ADMIN_REQUIRES_MULTI_FACTOR", default=True)

# OAUTH
# ------------------------------------------------------------------------------
# https only for redirect URIs, whatever the environment says (RFC 9700 §2.1).
OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"] = ["https"]

# STATIC FILES
# ------------------------------------------------------------------------------
# https://whitenoise.readthedocs.io/en/stable/django.html
# Right after SecurityMiddleware, as WhiteNoise asks.
AFTER_SECURITY = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE = [
    *MIDDLEWARE[:AFTER_SECURITY],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[AFTER_SECURITY:],
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# LOGGING
# ------------------------------------------------------------------------------
# One JSON object per line on stderr, with the request id: what log collectors parse.
LOGGING["handlers"]["console"]["formatter"] = "json"
