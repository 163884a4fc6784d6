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
from oauthlib.oauth2.rfc6749 import errors

# DOT's names of the grants it stores on a client, and the grant_type the device grant uses.
DEVICE_CODE_GRANT = AbstractApplication.GRANT_DEVICE_CODE
CLIENT_CREDENTIALS = AbstractApplication.GRANT_CLIENT_CREDENTIALS
AUTHORIZATION_CODE = AbstractApplication.GRANT_AUTHORIZATION_CODE

# RFC 6749 §5.2: the scheme clients authenticate with at the token, revocation and
# introspection endpoints, named in the 401's challenge.
CLIENT_AUTHENTICATION_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'


# The longest value the server accepts for each parameter it stores or sends back, in
# characters: far above what a real client sends, far below what fills a database row or a
# redirect's Location header. Longer is invalid_request (RFC 6749 §4.1.2.1, §5.2). The nonce's
# is DOT's column (Grant.nonce); the code_challenge and code_verifier also have RFC 7636's
# exact form (server.py).
PARAMETER_LIMITS = {
    "scope": 1024,
    "state": 2048,
    "nonce": 255,
    "redirect_uri": 2048,
    "claims": 4096,
    "resource": 2048,
    "code_challenge": 128,
    "code_verifier": 128,
}
# RFC 8707 §2: a client may name several resources; no client names more than this many.
MAX_RESOURCES = 10


def check_parameter_limits(request):
    """Refuse a parameter longer than PARAMETER_LIMITS allows, and de-duplicate the scope.

    Run on every authorization, token and device authorization request (server.py, device.py),
    before anything is validated or stored; returns the empty dict oauthlib's hooks may return."""
    try:
        pairs = [*request.uri_query_params, *(request.decoded_body or [])]
    except ValueError as error:
        raise errors.InvalidRequestError("Unreadable parameters.", request=request) from error
    for name, value in pairs:
        limit = PARAMETER_LIMITS.get(name)
        if limit is not None and len(value) > limit:
            if name == "state":
                # RFC 6749 §4.1.2.1 echoes the state with the error: not one this long.
                request.state = None
            raise errors.InvalidRequestError(f"{name} is longer than {limit} characters.", request=request)
    if sum(name == "resource" for name, _ in pairs) > MAX_RESOURCES:
        raise errors.InvalidRequestError(f"More than {MAX_RESOURCES} resource parameters.", request=request)
    # RFC 6749 §3.3: the scope is a set; "read read" is stored and granted as "read".
    if request.scope:
        request.scope = " ".join(dict.fromkeys(request.scope.split()))
    if request.scopes:
        request.scopes = list(dict.fromkeys(request.scopes))
    return {}


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


def bearer_token_misplaced(request):
    """
    Why the request carries its bearer token where OAuth 2.1 §5.2 and RFC 6750 §2 allow none,
    or None: in the Authorization header, or else in a single-part form body of a POST (§2.2);
    never in the query string (OAuth 2.1 §5.2, RFC 9700 §4.3.2; DOT's gate answers that with a
    bare 401 at resources and not at all at UserInfo), and by one method only (RFC 6750 §3.1).
    """
    if "access_token" in request.GET:
        return "The access token must not be sent in the query string."
    # Django reads a form body of POST requests only, urlencoded or multipart.
    if "access_token" in request.POST:
        if request.content_type != "application/x-www-form-urlencoded":
            return "An access token in the body is sent as application/x-www-form-urlencoded only."
        if request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer":
            return "The access token is sent by one method only."
    return None


class BearerTokenTransport:
    """
    Mixin for the views that take a bearer token (UserInfo, protected resources): a token sent
    where it must not be is 400 invalid_request with a Bearer challenge (RFC 6750 §3.1), before
    the token is even looked at.
    """

    def dispatch(self, request, *args, **kwargs):
        problem = bearer_token_misplaced(request)
        if problem:
            challenge = f'Bearer error="invalid_request", error_description="{problem}"'
            return oauth_error("invalid_request", problem, WWW_Authenticate=challenge)
        return super().dispatch(request, *args, **kwargs)


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
