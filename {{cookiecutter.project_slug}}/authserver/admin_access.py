# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Staff reach the admin (/admin/) with a second factor where ADMIN_REQUIRES_MULTI_FACTOR says so (on
by default in production): the admin changes clients, their secrets and every user, so a password
alone, phished or guessed, must not open it (NIST SP 800-63B §4.2: AAL2 for such access).

The sign-in is the site's (config/urls.py: allauth's secure_admin_login). On each admin page, a
staff session that is not multi-factor (authentication_context.py) is sent, as a client that
requires multi-factor sends it (endpoints/authorization.py second_factor_response): to allauth's
second-factor reauthentication for a user with one, or, on the first visit of a user without one,
to a page asking them to enrol one at /accounts/2fa/ and then come back.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

from . import authentication_context
from .authentication_context import Shortfall
from .endpoints.authorization import second_factor_response

# How the enrolment page names what asks for the second factor.
THE_ADMIN = {"name": "The admin"}


def shortfall_response(request):
    """The page for a staff session without the second factor the admin needs; None where it may go on."""
    user = request.user
    if not (settings.ADMIN_REQUIRES_MULTI_FACTOR and user.is_active and user.is_staff):
        # Anyone else is the admin's own to refuse (AdminSite.has_permission).
        return None
    if authentication_context.of_session(request).meets(authentication_context.multi_factor()):
        return None
    here = request.get_full_path()

    def sign_in_again():
        logout(request)
        return redirect_to_login(here)

    has_one = authentication_context.has_second_factor(user)
    shortfall = Shortfall.SECOND_FACTOR if has_one else Shortfall.ENROLMENT
    return second_factor_response(request, shortfall, THE_ADMIN, here, sign_in_again)


def require_multi_factor(site):
    """Every view of the admin `site` (those its admin_view wraps: all but its login) asks for a
    multi-factor session first, where ADMIN_REQUIRES_MULTI_FACTOR says so (read at each request)."""
    admin_view = site.admin_view

    def multi_factor_admin_view(view, cacheable=False):
        checked = admin_view(view, cacheable)

        @wraps(checked)
        def inner(request, *args, **kwargs):
            answer = shortfall_response(request)
            return answer if answer is not None else checked(request, *args, **kwargs)

        return inner

    site.admin_view = multi_factor_admin_view
