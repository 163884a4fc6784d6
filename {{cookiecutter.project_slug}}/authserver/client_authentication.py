# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Where OAuth clients authenticate (RFC 6749 §2.3): the token, revocation, introspection and device
authorization endpoints. Shared so that every one of them reads credentials the same way, refuses
two methods at once and answers failures as RFC 6749 §5.2 says.
"""

import base64
from urllib.parse import unquote_plus

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from .errors import oauth_error
from .parameters import has_nul

# RFC 6749 §5.2: the scheme clients authenticate with, named in the 401's challenge.
CLIENT_AUTHENTICATION_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'


def basic_credentials(authorization):
    """The (client_id, secret) of the HTTP Basic credentials in an Authorization header's value, as
    DOT reads them: None without Basic, ("", "") when they are unreadable."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(credentials).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
        return "", ""
    # RFC 6749 §2.3.1: form-urlencoded before base64.
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def basic_client_id(request):
    """The client_id of the request's HTTP Basic credentials, as DOT reads them: None without a
    Basic Authorization header, "" when its credentials are unreadable."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    return None if credentials is None else credentials[0]


def client_id_of(request):
    """The client_id a request authenticates as: HTTP Basic first, as DOT reads it, else the body."""
    basic = basic_client_id(request)
    return request.POST.get("client_id", "") if basic is None else basic


def more_than_one_method(request):
    """RFC 6749 §2.3: HTTP Basic with a client_secret in the body, or with another client_id there.
    The same client_id in the body only names the client and is allowed (RFC 6749 §3.2.1)."""
    basic, body = basic_client_id(request), request.POST
    return basic is not None and ("client_secret" in body or body.get("client_id", basic) != basic)


class OneClientAuthenticationMethod:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request:
    refused before any credential is checked, since DOT would try the body once Basic failed,
    and a client paused by throttling (its client_id in the body) could hide behind a junk Basic
    header. A client_id with a NUL is refused too: no client has one, and PostgreSQL cannot
    even compare one (RFC 6749 Appendix A)."""

    # A dispatch of its own hides DOT's csrf_exempt one: clients post here, not browsers.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        # Wherever a client_id is read from, whatever the method: DOT authenticates the client
        # before it looks at the method, and oauthlib reads the query's parameters with the body's.
        if has_nul(basic_client_id(request), request.GET.get("client_id"), request.POST.get("client_id")):
            return oauth_error("invalid_request", "NUL in the client_id.")
        if request.method == "POST" and more_than_one_method(request):
            return oauth_error(
                "invalid_request", "Authenticate the client one way: HTTP Basic or the request body."
            )
        return super().dispatch(request, *args, **kwargs)


class ClientAuthenticationErrors(OneClientAuthenticationMethod):
    """RFC 6749 §5.2 error responses where clients authenticate: the token and revocation endpoints."""

    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 401:
            # RFC 6749 §5.2: the challenge names the scheme clients authenticate with (oauthlib: Bearer).
            response["WWW-Authenticate"] = CLIENT_AUTHENTICATION_CHALLENGE
        return response
