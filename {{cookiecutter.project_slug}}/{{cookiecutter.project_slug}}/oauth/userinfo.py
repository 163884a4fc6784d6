"""
The UserInfo endpoint (OpenID Connect Core 1.0 §5.3): the claims about the user a token speaks for.
"""

from oauth2_provider import views as oauth2_views


class UserInfoView(oauth2_views.UserInfoView):
    """DOT's UserInfo endpoint; the claims come from claims.py."""
