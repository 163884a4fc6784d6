# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The UserInfo endpoint (OpenID Connect Core 1.0 §5.3): the claims about the user a token speaks for.
"""

from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth2_views

from ..bearer import BearerTokenTransport
from ..view_policy import OAUTH_ENDPOINT, declare


# Django takes these from the outermost dispatch, now BearerTokenTransport's: as on DOT's view, a
# token authenticates here, not a session, so no CSRF token and no login are asked for.
@declare(OAUTH_ENDPOINT, read_only=True)
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class UserInfoView(BearerTokenTransport, oauth2_views.UserInfoView):
    """DOT's UserInfo endpoint, GET or POST (§5.3.1); the claims are the adapter's (adapter.py)."""
