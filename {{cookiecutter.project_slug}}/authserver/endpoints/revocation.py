# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The revocation endpoint (RFC 7009): a client says it no longer needs a token.
"""

from oauth2_provider import views as oauth2_views

from ..client_authentication import ClientAuthenticationErrors
from ..view_policy import OAUTH_ENDPOINT, Throttle, declare


@declare(OAUTH_ENDPOINT, throttle=Throttle.CLIENT_AUTHENTICATION)
class RevokeTokenView(ClientAuthenticationErrors, oauth2_views.RevokeTokenView):
    """DOT's revocation endpoint, with RFC 6749 §5.2's error responses."""
