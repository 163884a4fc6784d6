"""Settings for the test suite: fast, isolated, and still secure by default. Reads `.env`."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import PROJECT_DIR, load_env_file

load_env_file(default=PROJECT_DIR / ".env")

from .base import *  # noqa: E402, F403
from .base import OAUTH2_PROVIDER, OIDC_SCOPES, PASSWORD_HASHERS  # noqa: E402

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789"  # noqa: S105
DEBUG = False
# The demo callback page is tested; test_settings.py checks that production turns it off.
DEMO_PAGES_ENABLED = True

# Test users log in many times: a fast hasher for them only, client secrets still
# go through the dedicated client-secret hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

# An ephemeral signing key, so the tests never depend on keys/oidc.key.
_test_signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"] = _test_signing_key.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEYS_INACTIVE"] = []
OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"] = ["http", "https"]
# The issuer is the test client's origin (http://testserver), whatever .env pins for runserver;
# a test that needs another pins it itself.
OAUTH_ISSUER = ""
OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] = OAUTH_ISSUER

# Each test run starts from an empty cache of its own, whatever CACHE_URL says.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The tests exercise the sample scopes whatever .env offers; tests/test_scopes_from_env.py
# checks that a running server honours OAUTH_SCOPES.
OAUTH_APP_SCOPES = {"read": "Read your data", "write": "Change your data"}
OAUTH_SCOPES = {**OIDC_SCOPES, **OAUTH_APP_SCOPES}
OAUTH_DEFAULT_SCOPES = ["read"]
OAUTH2_PROVIDER["SCOPES"] = OAUTH_SCOPES
OAUTH2_PROVIDER["DEFAULT_SCOPES"] = OAUTH_DEFAULT_SCOPES

# RFC 8707: the resources the tests bind tokens to (tests/test_resources.py checks the default).
OAUTH_RESOURCES = ["https://api.example.com/", "https://other.example.com/"]
