"""
The introspection endpoint (RFC 7662): a resource server asks whether a token is active, and
what it may do.

Who may ask (§2.1, §4): a confidential client registered as a resource server
(`Application.is_resource_server`, set by an admin); any other client gets 403
`unauthorized_client`, a public one (no credentials) 401 `invalid_client`. What it learns: about
a token meant for certain resources (RFC 8707 `resource`, the token's `aud`), only if it serves
one of them (`Application.resource_uris`), otherwise `{"active": false}`, as for an unknown
token; a token meant for no resource in particular is valid at every resource server, so
every resource server may learn about it.
"""

import calendar

from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth2_views
from oauth2_provider.views.mixins import ProtectedResourceMetadataMixin

from . import token_cache
from .common import (
    CLIENT_AUTHENTICATION_CHALLENGE,
    OneClientAuthenticationMethod,
    oauth_error,
    token_checksum,
)

INACTIVE = {"active": False}


def may_learn_about(resource_server, token):
    """RFC 7662 §4: a token with audiences is told only to a resource server among them."""
    if not token.resource:
        return True
    return any(token.allows_audience(uri) for uri in resource_server.resource_uris.split())


def introspection_response(token):
    """RFC 7662 §2.2 about a valid token, as DOT's get_token_response words it."""
    data = {"active": True, "scope": token.scope, "exp": int(calendar.timegm(token.expires.timetuple()))}
    if token.application:
        data["client_id"] = token.application.client_id
    if token.user:
        data["username"] = token.user.get_username()
    if token.resource:
        data["aud"] = token.resource
    return data


class IntrospectTokenView(
    OneClientAuthenticationMethod, ProtectedResourceMetadataMixin, oauth2_views.IntrospectTokenView
):
    """DOT's introspection endpoint: POST only, for resource servers, never cached."""

    # RFC 7662 §2.1: POST; DOT also reads the token from a GET's URL, which ends up in logs.
    http_method_names = ["post", "options"]

    # A dispatch of its own hides DOT's csrf_exempt one: resource servers post here, not browsers.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        # RFC 7662 §4 with RFC 6749 §5.1: what a token may do is never kept in a cache.
        response["Cache-Control"] = "no-store"
        return response

    def authenticate_client(self, request):
        # RFC 7662 §2.1: the caller authenticates. A public client has no credentials (DOT takes
        # a client_id alone with a device_code grant_type in the body, or a blank secret).
        request.introspecting_client = self.get_oauthlib_core().authenticated_client(request)
        client = request.introspecting_client
        return client is not None and client.client_type == client.CLIENT_CONFIDENTIAL

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
        token_value = request.POST.get("token")
        if token_value is None:
            return self.get_token_response(token_value)
        # One lookup, through the cache of validated tokens (token_cache.py), where DOT's
        # get_token_response would make its own.
        token = token_cache.access_token(token_checksum(token_value))
        if token is None or not token.is_valid():
            return JsonResponse(INACTIVE)
        if not may_learn_about(caller, token):
            # RFC 7662 §4: to a resource server outside its audience, a token is as good as unknown.
            return JsonResponse(INACTIVE)
        return JsonResponse(introspection_response(token))

    def unauthenticated_response(self, request, oauthlib_request=None):
        if request.headers.get("Authorization", "").startswith("Bearer "):
            # RFC 7662 §2.3: a bearer token that may not introspect gets RFC 6750's challenge.
            return super().unauthenticated_response(request, oauthlib_request)
        # RFC 7662 §2.3: failed client authentication is answered as RFC 6749 §5.2 says (DOT: bare 403).
        return oauth_error("invalid_client", status=401, WWW_Authenticate=CLIENT_AUTHENTICATION_CHALLENGE)
