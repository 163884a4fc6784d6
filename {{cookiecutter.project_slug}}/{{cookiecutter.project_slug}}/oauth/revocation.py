"""
The revocation endpoint (RFC 7009): a client says it no longer needs a token.
"""

from oauth2_provider import views as oauth2_views

from .token import ClientAuthenticationErrors


class RevokeTokenView(ClientAuthenticationErrors, oauth2_views.RevokeTokenView):
    """DOT's revocation endpoint, with RFC 6749 §5.2's error responses."""
