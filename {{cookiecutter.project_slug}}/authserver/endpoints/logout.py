# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
OpenID Connect RP-Initiated Logout 1.0: a relying party sends the user here to sign out.
"""

from oauth2_provider import views as oauth2_views
from oauth2_provider.exceptions import InvalidOIDCClientError
from oauth2_provider.models import get_application_model

from ..csp import allow_form_action
from ..parameters import has_nul
from ..view_policy import PRIVATE_PAGE, declare


@declare(PRIVATE_PAGE)
class LogoutView(oauth2_views.RPInitiatedLogoutView):
    """DOT's logout endpoint, whose confirmation form's answer redirects to the client."""

    def get_request_application(self, id_token, client_id):
        if has_nul(client_id):
            raise InvalidOIDCClientError
        try:
            return super().get_request_application(id_token, client_id)
        except get_application_model().DoesNotExist:
            # RP-Initiated Logout 1.0 §4: an unknown client_id does not validate; an error page (DOT: 500).
            raise InvalidOIDCClientError from None

    def get_context_data(self, **kwargs):
        # Validated against the client's registered post-logout URIs by now.
        allow_form_action(self.request, self.oidc_data.get("post_logout_redirect_uri"))
        return super().get_context_data(**kwargs)
