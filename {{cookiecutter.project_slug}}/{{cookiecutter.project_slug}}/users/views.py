"""The sign-in page, which the authorization endpoint sends users to."""

from django.contrib.auth import views as auth_views

from ..middleware.security_headers import allow_form_action, registered_redirect_uri


class LoginView(auth_views.LoginView):
    """Django's login page. Signed-in users see it too: prompt=login and max_age send them here."""

    def get_context_data(self, **kwargs):
        # After signing in, an authorization request may go straight on to the client (one
        # that skips the consent page): the login form's answer then redirects there.
        allow_form_action(self.request, registered_redirect_uri(self.get_redirect_url()))
        return super().get_context_data(**kwargs)
