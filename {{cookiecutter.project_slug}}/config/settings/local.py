"""Settings for running on your own machine: `manage.py runserver`. Reads `.env`."""

from . import PROJECT_DIR, load_env_file

load_env_file(default=PROJECT_DIR / ".env")

from .base import *  # noqa: E402, F403
from .base import MIDDLEWARE, OAUTH2_PROVIDER, env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The demo client's callback page, to try the flows out.
DEMO_PAGES_ENABLED = env.bool("DEMO_PAGES_ENABLED", default=True)

# Local clients often redirect to http://127.0.0.1; production settings allow https only.
OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"] = env.list(
    "OAUTH_REDIRECT_URI_SCHEMES", default=["http", "https"]
)

# WebAuthn (security keys, passkeys) on http://localhost, which browsers treat as secure;
# production serves https only. Browsers refuse it on an IP address such as 127.0.0.1: with
# OAUTH_ISSUER on localhost, a page opened on 127.0.0.1 at its port goes there instead.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
MIDDLEWARE = [
    MIDDLEWARE[0],
    "authserver.middleware.loopback.LoopbackAddressToIssuerMiddleware",
    *MIDDLEWARE[1:],
]
