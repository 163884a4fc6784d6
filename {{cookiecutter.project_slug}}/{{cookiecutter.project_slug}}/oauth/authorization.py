"""
The authorization endpoint (RFC 6749 §3.1, §4.1.1-4.1.2; OpenID Connect Core 1.0 §3.1.2): the
first thing a user's browser reaches. It signs the user in (the login page), asks for consent
(templates/oauth2_provider/authorize.html), and redirects back to the client with a code or an error.

A request goes: `AuthorizationView.get` checks what DOT leaves out (NUL bytes, OIDC's prompt and
max_age), then DOT validates the client, redirect URI, scopes and PKCE through oauthlib
(server.py, validator.py), and renders the consent page; its form posts back here, and DOT
creates the code.
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.views import redirect_to_login
from django.utils import timezone
from oauth2_provider import views as oauth2_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from ..middleware.security_headers import allow_form_action
from .common import has_nul


class ConsentPrompt(Exception):
    """Raised where DOT would skip the consent page that prompt=consent asks for."""


def prompt_values(request):
    # OIDC Core §3.1.2.1: a space-separated, case-sensitive list.
    return set(request.GET.get("prompt", "").split())


def signed_in_longer_ago_than(user, max_age):
    # auth_time is the user's last sign-in, as in DOT's ID tokens (OIDC Core §2).
    if max_age is None:
        return False
    return user.last_login is None or (timezone.now() - user.last_login).total_seconds() > int(max_age)


def with_issuer(uri, issuer):
    parts = urlsplit(uri)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "iss"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("iss", issuer)])))


class AuthorizationView(oauth2_views.AuthorizationView):
    """DOT's authorization endpoint, with OIDC Core's prompt and max_age and RFC 9207 on errors."""

    def get(self, request, *args, **kwargs):
        if has_nul(*(value for _, values in request.GET.lists() for value in values)):
            # The nonce, for one, could not be stored on PostgreSQL.
            return self.error_to_client(errors.InvalidRequestError, description="NUL in a parameter.")
        prompt = prompt_values(request)
        max_age = request.GET.get("max_age")
        if max_age is not None and not re.fullmatch(r"[0-9]{1,9}", max_age):
            return self.error_to_client(errors.InvalidRequestError, description="max_age is not a number.")
        # OIDC Core §3.1.2.1: prompt=login and an older sign-in than max_age ask the user to sign in again.
        if "login" in prompt or signed_in_longer_ago_than(request.user, max_age):
            if prompt == {"none"}:
                return self.error_to_client(errors.LoginRequired)
            if "none" not in prompt:
                return self.sign_in_again()
        try:
            response = super().get(request, *args, **kwargs)
        except ConsentPrompt:
            return self.render_to_response(self.get_context_data(**self.oauth2_data))
        if prompt == {"none"} and response.status_code == 200:
            # OIDC Core §3.1.2.1: prompt=none shows no page; without consent on record, consent_required.
            return self.error_to_client(errors.ConsentRequired)
        return response

    def get_context_data(self, **kwargs):
        # The consent form's answer redirects to the client (a validated redirect URI by now).
        allow_form_action(self.request, kwargs.get("redirect_uri"))
        return super().get_context_data(**kwargs)

    def create_authorization_response(self, request, scopes, credentials, allow):
        # OIDC Core §3.1.2.1: prompt=consent asks even a client that may skip the consent page.
        if request.method == "GET" and "consent" in prompt_values(request):
            raise ConsentPrompt
        return super().create_authorization_response(request, scopes, credentials, allow)

    def handle_no_permission(self):
        if {"none", "create"} & prompt_values(self.request):
            return super().handle_no_permission()
        return self.sign_in_again()

    def sign_in_again(self):
        """The login form, even when signed in; then this request without what signing in satisfied."""
        query = self.request.GET.copy()
        query.pop("max_age", None)
        query.pop("prompt", None)
        other_prompts = prompt_values(self.request) - {"login"}
        if other_prompts:
            query["prompt"] = " ".join(sorted(other_prompts))
        return redirect_to_login(f"{self.request.path}?{query.urlencode()}", self.get_login_url())

    def error_to_client(self, error_class, **kwargs):
        """OIDC Core §3.1.2.6: an error for the client, sent once its redirect URI is known to be registered."""
        try:
            _scopes, credentials = self.validate_authorization_request(self.request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        error = OAuthToolkitError(
            error_class(state=credentials.get("state"), **kwargs), redirect_uri=credentials["redirect_uri"]
        )
        return self.error_response(error, application)

    def redirect(self, redirect_to, application):
        # RFC 9207 §2: error responses carry the issuer too (DOT adds it to successes only).
        issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
        return super().redirect(with_issuer(redirect_to, issuer), application)
