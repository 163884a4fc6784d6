# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""System checks that catch a broken OAuth configuration before the first request."""

import re
from urllib.parse import urlsplit

from allauth.account import app_settings as account_settings
from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from .adapter import DefaultServerAdapter, get_adapter

# An acr value: printable ASCII without spaces, short enough for models.SignIn.level.
ACR_VALUE = re.compile(r"[\x21-\x7e]{1,255}")


@checks.register(checks.Tags.security)
def check_signing_key(app_configs, **kwargs):
    if settings.OAUTH2_PROVIDER.get("OIDC_RSA_PRIVATE_KEY"):
        return []
    return [
        checks.Error(
            f"No OIDC signing key: set OIDC_RSA_PRIVATE_KEY or create {settings.OIDC_RSA_PRIVATE_KEY_FILE}.",
            hint="Run `python manage.py create_oidc_key`.",
            id="oauth.E001",
        )
    ]


@checks.register()
def check_default_scopes(app_configs, **kwargs):
    unknown = sorted(set(settings.OAUTH_DEFAULT_SCOPES) - set(settings.OAUTH_SCOPES))
    if not unknown:
        return []
    return [
        checks.Error(
            f"OAUTH_DEFAULT_SCOPES names scopes that OAUTH_SCOPES does not define: {', '.join(unknown)}.",
            hint="Add them to OAUTH_SCOPES or remove them from OAUTH_DEFAULT_SCOPES in .env.",
            id="oauth.E002",
        )
    ]


# RFC 6749 §3.3: a scope token is printable ASCII without space, quote or backslash.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@checks.register()
def check_scope_names(app_configs, **kwargs):
    bad = [name for name in settings.OAUTH_SCOPES if not SCOPE_TOKEN.fullmatch(name)]
    if not bad:
        return []
    return [
        checks.Error(
            f"OAUTH_SCOPES has scope names that are not RFC 6749 scope tokens: {', '.join(map(repr, bad))}.",
            hint="Write OAUTH_SCOPES=name=Description,name2=Description without spaces around , and =.",
            id="oauth.E003",
        )
    ]


@checks.register()
def check_access_token_format(app_configs, **kwargs):
    formats = settings.ACCESS_TOKEN_GENERATORS
    if settings.OAUTH_ACCESS_TOKEN_FORMAT in formats:
        return []
    return [
        checks.Error(
            f"OAUTH_ACCESS_TOKEN_FORMAT is {settings.OAUTH_ACCESS_TOKEN_FORMAT!r}: access tokens are "
            f"{' or '.join(formats)}.",
            hint="Set OAUTH_ACCESS_TOKEN_FORMAT=opaque (the default) or OAUTH_ACCESS_TOKEN_FORMAT=jwt (RFC 9068).",
            id="oauth.E004",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_issuer(app_configs, **kwargs):
    # OIDC Discovery 1.0 §3: the issuer is an https URL with no query or fragment,
    # and it must not depend on the Host header a client sends.
    issuer = settings.OAUTH_ISSUER
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.netloc and not parts.query and not parts.fragment:
        return []
    return [
        checks.Warning(
            f"OAUTH_ISSUER is {issuer!r}: production needs a fixed https issuer.",
            hint="Set OAUTH_ISSUER=https://<your domain> in the environment.",
            id="oauth.W001",
        )
    ]


@checks.register()
def check_second_factor_reauthentication(app_configs, **kwargs):
    # A client asking for multi-factor sends a password-only session to allauth's MFA
    # reauthentication (authorization.py), which this allauth setting can turn off.
    if "mfa" in account_settings.REAUTHENTICATION_METHODS:
        return []
    return [
        checks.Error(
            "ACCOUNT_REAUTHENTICATION_METHODS leaves out mfa: a session cannot be stepped up to multi-factor.",
            hint='Add "mfa" to ACCOUNT_REAUTHENTICATION_METHODS.',
            id="oauth.E005",
        )
    ]


@checks.register()
def check_server_adapter(app_configs, **kwargs):
    # The owner's decisions (adapter.py): a class the engine can ask, with acr values it can store
    # (models.SignIn.level) and that requests can name (OIDC Core §3.1.2.1 acr_values: space-separated).
    try:
        adapter = get_adapter()
    except ImportError as error:
        return [
            checks.Error(
                f"OAUTH_SERVER_ADAPTER is {settings.OAUTH_SERVER_ADAPTER!r}, which cannot be imported: {error}.",
                hint="Point it at your subclass of authserver.adapter.DefaultServerAdapter.",
                id="oauth.E006",
            )
        ]
    if not isinstance(adapter, DefaultServerAdapter):
        return [
            checks.Error(
                f"OAUTH_SERVER_ADAPTER names {type(adapter).__name__}, not a DefaultServerAdapter.",
                hint="Subclass authserver.adapter.DefaultServerAdapter.",
                id="oauth.E006",
            )
        ]
    values = adapter.acr_values
    if (
        isinstance(values, tuple | list)
        and len(values) == 2
        and len(set(values)) == 2
        and all(isinstance(value, str) and ACR_VALUE.fullmatch(value) for value in values)
    ):
        return []
    return [
        checks.Error(
            f"The adapter's acr_values are {values!r}: two different values are needed, lowest first.",
            hint="Each a non-empty string of at most 255 printable characters without spaces (OIDC Core §2).",
            id="oauth.E007",
        )
    ]


# Caches whose entries live in one process: each worker would count failures on its own.
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.security, checks.Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    # The brute-force limits (allauth's failed sign-ins, middleware/throttling.py) and the spent
    # TOTP codes live in the default cache: in a process-local one, each of N workers allows its
    # own count, and a code spent in one worker is accepted by another.
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        checks.Warning(
            f"The default cache is {backend.rsplit('.', 1)[-1]}, each worker process's own: every worker "
            "counts failed sign-ins and spent one-time codes on its own.",
            hint="Set CACHE_URL to a cache all workers share, e.g. CACHE_URL=redis://127.0.0.1:6379/0.",
            id="oauth.W002",
        )
    ]


@checks.register(checks.Tags.database)
def check_clients_allowed_scopes(app_configs, databases=None, **kwargs):
    # A scope removed from OAUTH_SCOPES stays in the clients that were allowed it: harmless (no
    # client is granted a scope the server does not offer), but the admin refuses to save such a
    # client (models.Application.clean) until it is taken out. Database checks run only where a
    # database is named (migrate, `check --database default`), as Django's own do.
    from oauth2_provider.models import get_application_model
    from oauth2_provider.scopes import get_scopes_backend

    known = set(get_scopes_backend().get_all_scopes())
    warnings = []
    for alias in databases or ():
        clients = (
            get_application_model().objects.using(alias).values_list("client_id", "name", "allowed_scopes")
        )
        try:
            clients = list(clients)
        except DatabaseError:
            # Before the first migrate there is no client table, and so no client.
            continue
        for client_id, name, allowed in clients:
            gone = [scope for scope in allowed.split() if scope not in known]
            if gone:
                warnings.append(
                    checks.Warning(
                        f"Client {name!r} (client_id {client_id}) is allowed scopes that OAUTH_SCOPES no "
                        f"longer offers: {', '.join(gone)}.",
                        hint="For a seeded client, run `python manage.py seed_oauth_clients`; for another, take "
                        "them out of its Allowed scopes in the admin (OAuth clients).",
                        id="oauth.W003",
                    )
                )
    return warnings
