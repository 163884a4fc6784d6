# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The introspection endpoint (RFC 7662): a resource server asks whether a token is active, and
what it may do.

Who may ask (§2.1, §4): a confidential client registered as a resource server
(`Application.is_resource_server`, set by an admin); any other client gets 403
`unauthorized_client`, a public one (no credentials) 401 `invalid_client`. What it learns: about
a token meant for certain resources (RFC 8707 `resource`, the token's `aud`), only if it serves
one of them (`Application.resource_uris`), otherwise `{"active": false}`, as for an unknown
token; a token meant for no resource in particular is valid at every resource server, so
every resource server may learn about it. A registration access token (RFC 7592 §1.3) is no
token for any resource: it manages one client's registration at the registration endpoint only,
and introspects as `{"active": false}`. The answer itself is DOT's, about the token as the cache
of validated tokens (token_cache.py) has it.
"""

import calendar

from django.http import JsonResponse
from oauth2_provider import views as oauth2_views
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import ProtectedResourceMetadataMixin

from .. import token_cache
from ..client_authentication import CLIENT_AUTHENTICATION_CHALLENGE, OneClientAuthenticationMethod
from ..errors import oauth_error
from ..view_policy import OAUTH_ENDPOINT, Throttle, declare

INACTIVE = {"active": False}


def is_registration_access_token(answer):
    """RFC 7592 §1.3: DOT stores a registration access token as an access token with its
    registration scope; it is a credential for the client configuration endpoint alone."""
    return oauth2_settings.DCR_REGISTRATION_SCOPE in answer.get("scope", "").split()


def may_learn_about(resource_server, audiences):
    """RFC 7662 §4: a token with audiences is told only to a resource server among them, as
    DOT's AccessToken.allows_audience decides."""
    if not audiences:
        return True
    allows = oauth2_settings.RESOURCE_SERVER_TOKEN_RESOURCE_VALIDATOR
    return any(allows(uri, audiences) for uri in resource_server.resource_uris.split())


def answer_about(token):
    """RFC 7662 §2.2: DOT's answer about a valid token (IntrospectTokenView.get_token_response),
    built here because DOT's view looks the token up itself, with no seam for the lookup."""
    answer = {"active": True, "scope": token.scope, "exp": int(calendar.timegm(token.expires.timetuple()))}
    if token.application:
        answer["client_id"] = token.application.client_id
    if token.user:
        answer["username"] = token.user.get_username()
    if token.resource:
        # RFC 8707: the resources the token is meant for.
        answer["aud"] = token.resource
    return answer


@declare(OAUTH_ENDPOINT, throttle=Throttle.CLIENT_AUTHENTICATION, read_only=True)
class IntrospectTokenView(
    OneClientAuthenticationMethod, ProtectedResourceMetadataMixin, oauth2_views.IntrospectTokenView
):
    """DOT's introspection endpoint: POST only, for resource servers, never cached."""

    # RFC 7662 §2.1: POST; DOT also reads the token from a GET's URL, which ends up in logs.
    http_method_names = ["post", "options"]

    def authenticate_client(self, request):
        # RFC 7662 §2.1: the caller authenticates (DOT's check), as a confidential client: a public
        # one has no credentials (DOT takes a client_id alone with a device_code grant_type in the
        # body, or a blank secret). The client it authenticated as is the one its request names
        # (one method only: OneClientAuthenticationMethod), as DOT's check loaded it.
        if not super().authenticate_client(request):
            return False
        client = request.introspecting_client = request.authenticated_client
        return client.client_type == client.CLIENT_CONFIDENTIAL

    def verify_request(self, request):
        # DOT's other way in: a bearer token with the `introspection` scope, on behalf of its client.
        valid, oauthlib_request = super().verify_request(request)
        if valid:
            request.introspecting_client = oauthlib_request.client
        return valid, oauthlib_request

    def post(self, request, *args, **kwargs):
        caller = request.introspecting_client
        if caller.client_type != caller.CLIENT_CONFIDENTIAL or not caller.is_resource_server:
            # RFC 7662 §2.1: the endpoint requires authorization; this client has none.
            return oauth_error("unauthorized_client", "This client may not introspect tokens.", status=403)
        return super().post(request, *args, **kwargs)

    def get_token_response(self, token_value=None):
        if token_value is None:
            # DOT's invalid_request.
            return super().get_token_response(token_value)
        token = token_cache.access_token(token_cache.token_checksum(token_value))
        if token is None or not token.is_valid():
            return JsonResponse(INACTIVE)
        answer = answer_about(token)
        if is_registration_access_token(answer):
            # RFC 7662 §2.2, RFC 7592 §1.3: no resource server may accept it, so to every one it is
            # as good as unknown.
            return JsonResponse(INACTIVE)
        if not may_learn_about(self.request.introspecting_client, answer.get("aud")):
            # RFC 7662 §4: to a resource server outside its audience, a token is as good as unknown.
            return JsonResponse(INACTIVE)
        return JsonResponse(answer)

    def unauthenticated_response(self, request, oauthlib_request=None):
        if request.headers.get("Authorization", "").startswith("Bearer "):
            # RFC 7662 §2.3: a bearer token that may not introspect gets RFC 6750's challenge.
            return super().unauthenticated_response(request, oauthlib_request)
        # RFC 7662 §2.3: failed client authentication is answered as RFC 6749 §5.2 says (DOT: bare 403).
        return oauth_error("invalid_client", status=401, WWW_Authenticate=CLIENT_AUTHENTICATION_CHALLENGE)
