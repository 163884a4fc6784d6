"""
The introspection endpoint (RFC 7662): a resource server asks whether a token is active, and
what it may do.
"""

from oauth2_provider import views as oauth2_views
from oauth2_provider.views.mixins import ProtectedResourceMetadataMixin

from .common import CLIENT_AUTHENTICATION_CHALLENGE, OneClientAuthenticationMethod, oauth_error


class IntrospectTokenView(
    OneClientAuthenticationMethod, ProtectedResourceMetadataMixin, oauth2_views.IntrospectTokenView
):
    """DOT's introspection endpoint: POST only, and RFC 7662 §2.3's answer to a failed authentication."""

    # RFC 7662 §2.1: POST; DOT also reads the token from a GET's URL, which ends up in logs.
    http_method_names = ["post", "options"]

    def unauthenticated_response(self, request, oauthlib_request=None):
        if request.headers.get("Authorization", "").startswith("Bearer "):
            # RFC 7662 §2.3: a bearer token that may not introspect gets RFC 6750's challenge.
            return super().unauthenticated_response(request, oauthlib_request)
        # RFC 7662 §2.3: failed client authentication is answered as RFC 6749 §5.2 says (DOT: bare 403).
        return oauth_error("invalid_client", status=401, WWW_Authenticate=CLIENT_AUTHENTICATION_CHALLENGE)
