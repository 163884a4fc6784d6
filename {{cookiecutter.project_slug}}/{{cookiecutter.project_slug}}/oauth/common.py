"""
Small pieces that several endpoints share: one definition each, so that a fix reaches them all.
"""

import base64
import hashlib
from urllib.parse import unquote_plus

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import AbstractApplication

# DOT's names of the grants it stores on a client, and the grant_type the device grant uses.
DEVICE_CODE_GRANT = AbstractApplication.GRANT_DEVICE_CODE
CLIENT_CREDENTIALS = AbstractApplication.GRANT_CLIENT_CREDENTIALS
AUTHORIZATION_CODE = AbstractApplication.GRANT_AUTHORIZATION_CODE

# RFC 6749 §5.2: the scheme clients authenticate with at the token, revocation and
# introspection endpoints, named in the 401's challenge.
CLIENT_AUTHENTICATION_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'


def has_nul(*values):
    """RFC 6749 Appendix A: parameter values are printable. No stored value holds a NUL, and
    PostgreSQL cannot even compare one (psycopg 3 raises DataError: a 500)."""
    return any(value and "\x00" in value for value in values)


def token_checksum(token):
    """How DOT finds a stored token (`token_checksum`): the SHA-256 of the token, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def lock_rows(queryset):
    """Lock the matching rows until the transaction ends (ATOMIC_REQUESTS): of two requests
    that redeem the same code or token at once, the second waits here for the first to commit,
    then finds it used."""
    return list(queryset.select_for_update())


def oauth_error(error, description=None, status=400, **headers):
    """An error answer shaped as RFC 6749 §5.2 says: JSON, never cached (§5.1)."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def basic_client_id(request):
    """The client_id of the request's HTTP Basic credentials, as DOT reads them: None without a
    Basic Authorization header, "" when its credentials are unreadable."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(credentials).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
        return ""
    # RFC 6749 §2.3.1: form-urlencoded before base64.
    return unquote_plus(decoded.partition(":")[0])


class OneClientAuthenticationMethod:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request.
    HTTP Basic with a client_secret in the body, or with another client_id there, is refused
    before any credential is checked: DOT would try the body once Basic failed, so a client
    paused by throttling (its client_id in the body) could hide behind a junk Basic header.
    The same client_id in the body only names the client and is allowed (RFC 6749 §3.2.1)."""

    # A dispatch of its own hides DOT's csrf_exempt one: clients post here, not browsers.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST" and self.more_than_one_method(request):
            return oauth_error(
                "invalid_request", "Authenticate the client one way: HTTP Basic or the request body."
            )
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def more_than_one_method(request):
        basic, body = basic_client_id(request), request.POST
        return basic is not None and ("client_secret" in body or body.get("client_id", basic) != basic)
