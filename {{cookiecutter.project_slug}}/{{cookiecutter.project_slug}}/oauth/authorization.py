"""
The authorization endpoint (RFC 6749 §3.1, §4.1.1-4.1.2; OpenID Connect Core 1.0 §3.1.2): the
first thing a user's browser reaches. It signs the user in (allauth's pages, sign_in.py), asks for consent
(templates/oauth2_provider/authorize.html), and redirects back to the client with a code or an error.

A request (GET, or POST from the client's own form) goes: `AuthorizationView.dispatch` refuses
request objects, `get` checks what DOT leaves out (NUL bytes, OIDC's prompt, max_age and
id_token_hint), then DOT validates the client, redirect URI, scopes and PKCE through oauthlib
(server.py, validator.py). Before the consent page, and again before any code, the session's
authentication must meet what the client and the request ask for (acr_values, an essential acr,
Application.requires_multi_factor: authentication_context.py); a user with a second factor is
sent to allauth's MFA reauthentication and back, one without is asked to enrol. A consent on
record (consent.py) answers at once; otherwise DOT renders the consent page, whose form posts
back here, and DOT creates the code.
"""

import dataclasses
import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException
from oauth2_provider import views as oauth2_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid.connect.core.exceptions import (
    InteractionRequired,
    RequestNotSupported,
    RequestURINotSupported,
)

from ..middleware.security_headers import allow_form_action
from . import authentication_context, claims, sign_in
from .authentication_context import Shortfall
from .common import has_nul
from .consent import consent_on_record

# The consent page's form (templates/oauth2_provider/authorize.html) carries this field, and its
# Allow button DOT's `allow`: a POST with either answers the consent page. Any other POST is an
# authorization request.
CONSENT_ANSWER_FIELDS = {"consent_form", "allow"}


class ConsentPrompt(Exception):
    """Raised where DOT would skip the consent page that prompt=consent asks for."""


class AuthenticationShortfall(Exception):
    """Raised where a code would be issued to a session that lacks a second factor the client or
    the request asks for (authentication_context.Shortfall)."""

    def __init__(self, shortfall, application):
        super().__init__(shortfall.value)
        self.shortfall = shortfall
        self.application = application


class UnmetAuthenticationRequirements(errors.OAuth2Error):
    """
    OpenID Connect Core Error Code unmet_authentication_requirements 1.0 §2: the error for an
    essential acr (OIDC Core §5.5.1.1) this server cannot meet, which OIDC Core treats as a
    failed authentication. oauthlib has no class for it.
    https://openid.net/specs/openid-connect-unmet-authentication-requirements-1_0.html
    """

    error = "unmet_authentication_requirements"
    description = "The sign-in cannot reach the authentication context class the client requires (acr)."


def as_claims_request(claims_request):
    """The claims request as DOT hands it on: parsed (server.py) on the request, JSON on the
    consent form, whose answer oauthlib checks only later; {} for one that is malformed."""
    if isinstance(claims_request, str):
        try:
            claims_request = json.loads(claims_request)
        except (ValueError, RecursionError):
            return {}
    return claims_request if claims.is_claims_request(claims_request) else {}


def prompt_values(request):
    # OIDC Core §3.1.2.1: a space-separated, case-sensitive list.
    return set(request.GET.get("prompt", "").split())


def authenticated_longer_ago_than(request, max_age):
    """OIDC Core §3.1.2.1 max_age, measured from the same moment as the ID token's auth_time."""
    if max_age is None:
        return False
    authenticated_at = sign_in.signed_in_at(request)
    return authenticated_at is None or (timezone.now() - authenticated_at).total_seconds() > int(max_age)


def id_token_subject(id_token, issuer):
    """The `sub` of an ID token this server signed, with any of its keys; None for anything else.

    An expired one will do: a hint names a user, it grants nothing (OIDC Core §3.1.2.1).
    """
    keys = jwk.JWKSet()
    for pem in (oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE):
        if pem:
            keys.add(jwk_from_pem(pem))
    try:
        payload = json.loads(jwt.JWT(jwt=id_token, key=keys, algs=["RS256"], check_claims={}).claims)
    except (JWException, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or payload.get("iss") != issuer:
        return None
    return payload.get("sub")


def with_issuer(uri, issuer):
    parts = urlsplit(uri)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "iss"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("iss", issuer)])))


def second_factor_response(request, shortfall, application, continue_url, sign_in_again):
    """
    The page for a session without the second factor it needs (Shortfall.SECOND_FACTOR,
    Shortfall.ENROLMENT), after which the user continues at `continue_url`: allauth's MFA
    reauthentication, or a page asking to enrol one first (403; no code, no device approved).
    """
    if shortfall is Shortfall.ENROLMENT:
        context = {
            "application": application,
            "enrol_url": reverse("mfa_index"),
            "continue_url": continue_url,
        }
        return render(request, "oauth2_provider/second_factor_required.html", context, status=403)
    if authentication_context.of_session(request).level is None:
        # Signed in where allauth kept no record (before it was installed): a second factor
        # alone would not make two, so the whole sign-in, whose MFA stage asks for it.
        return sign_in_again()
    # allauth's reauthentication with the user's second factor, which returns to `next`.
    page = authentication_context.second_factor_page(request)
    if page is None:
        raise ImproperlyConfigured('ACCOUNT_REAUTHENTICATION_METHODS must include "mfa" (check oauth.E005).')
    return HttpResponseRedirect(f"{page}?{urlencode({REDIRECT_FIELD_NAME: continue_url})}")


# OIDC Core §3.1.2.1: the authorization endpoint MUST support POST as well as GET, the
# parameters form-encoded in the body. Such a POST comes from the client's page on another
# origin, so it cannot carry our CSRF token: the view is exempt, and only the consent form's
# answer (CONSENT_ANSWER_FIELDS), the one POST that approves anything, is checked (csrf_protect,
# RFC 6749 §10.12). An authorization request by POST can do no more than the same request by GET,
# which any page can send a browser to. (Browsers do not send the SameSite=Lax session cookie
# with another site's POST: such a request meets the login page, and prompt=none login_required.)
@method_decorator(csrf_exempt, name="dispatch")
class AuthorizationView(oauth2_views.AuthorizationView):
    """DOT's authorization endpoint, with OIDC Core's POST, prompt, max_age, id_token_hint and
    remembered consent, request objects refused, and RFC 9207 on errors."""

    def dispatch(self, request, *args, **kwargs):
        self.answers_consent = request.method == "POST" and not CONSENT_ANSWER_FIELDS.isdisjoint(request.POST)
        if self.answers_consent:
            return csrf_protect(super().dispatch)(request, *args, **kwargs)
        if request.method == "POST":
            # From here on the request's parameters are the body's, as a GET's are its query's
            # (DOT and oauthlib read request.GET; an empty POST keeps oauthlib from seeing them twice).
            request.GET, request.POST = request.POST, QueryDict()
        # OIDC Core §6.1, §6.2: request objects are not supported, which discovery says too; an
        # error, never the parameters inside silently ignored. Before signing in: it cannot succeed.
        if "request" in request.GET:
            return self.error_to_client(RequestNotSupported)
        if "request_uri" in request.GET:
            return self.error_to_client(RequestURINotSupported)
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if self.answers_consent:
            try:
                return super().post(request, *args, **kwargs)
            except AuthenticationShortfall as raised:
                return self.answer_shortfall(raised.shortfall, raised.application)
        return self.get(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        if has_nul(*(value for _, values in request.GET.lists() for value in values)):
            # The nonce, for one, could not be stored on PostgreSQL.
            return self.error_to_client(errors.InvalidRequestError, description="NUL in a parameter.")
        prompt = prompt_values(request)
        max_age = request.GET.get("max_age")
        if max_age is not None and not re.fullmatch(r"[0-9]{1,9}", max_age):
            return self.error_to_client(errors.InvalidRequestError, description="max_age is not a number.")
        # OIDC Core §3.1.2.1: prompt=login and an older sign-in than max_age ask the user to sign in again.
        if "login" in prompt or authenticated_longer_ago_than(request, max_age):
            if prompt == {"none"}:
                return self.error_to_client(errors.LoginRequired)
            if "none" not in prompt:
                return self.sign_in_again()
        # With open sign-up, a verified e-mail address first (sign_in.py); prompt=none shows no page.
        if request.user.is_authenticated and sign_in.email_verification_required(request.user):
            if "none" in prompt:
                return self.error_to_client(
                    InteractionRequired, description="The e-mail address is not verified."
                )
            return sign_in.ask_to_verify_email(request)
        # OIDC Core §3.1.2.1 id_token_hint: a positive answer only for the user the ID token names
        # (oauthlib's validate_user_match, which DOT answers True, never sees the session's user).
        id_token_hint = request.GET.get("id_token_hint")
        if id_token_hint is not None:
            subject = id_token_subject(id_token_hint, oauth2_settings.oidc_issuer(request))
            if subject is None:
                return self.error_to_client(
                    errors.InvalidRequestError, description="id_token_hint is not an ID token of this server."
                )
            if subject != claims.subject(request.user):
                return self.error_to_client(errors.LoginRequired, description="Signed in as another user.")
        try:
            return self.answer(request, prompt, *args, **kwargs)
        except AuthenticationShortfall as raised:
            return self.answer_shortfall(raised.shortfall, raised.application)

    def answer(self, request, prompt, *args, **kwargs):
        try:
            response = super().get(request, *args, **kwargs)
        except ConsentPrompt:
            return self.render_to_response(self.get_context_data(**self.oauth2_data))
        if response.status_code != 200:
            # A code (skip_authorization), or an error.
            return response
        # Before any page asks for consent, the second factor (or the error) the request asks for.
        application = self.oauth2_data["application"]
        level_request = self.level_request(self.oauth2_data.get("claims"))
        shortfall = authentication_context.shortfall(
            request, application, level_request, authentication_context.of_session(request)
        )
        if shortfall is Shortfall.UNMET:
            return self.error_to_client(UnmetAuthenticationRequirements)
        if shortfall is not None:
            raise AuthenticationShortfall(shortfall, application)
        # DOT would ask for consent. Asked before: the consent form's answer, Allow, as the user gave it.
        remembered = self.get_form_class()(data={**self.get_initial(), "allow": True})
        application, scopes = self.oauth2_data["application"], self.oauth2_data["scopes"]
        if (
            "consent" not in prompt
            and consent_on_record(request.user, application, scopes)
            and remembered.is_valid()
        ):
            return self.form_valid(remembered)
        if prompt == {"none"}:
            # OIDC Core §3.1.2.1: prompt=none shows no page; without consent on record, consent_required.
            return self.error_to_client(errors.ConsentRequired)
        return response

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if not self.answers_consent:
            # An authorization request by POST fills the consent form in; only an answer fills it out.
            kwargs.pop("data", None)
            kwargs.pop("files", None)
        return kwargs

    def get_context_data(self, **kwargs):
        # The consent form's answer redirects to the client (a validated redirect URI by now).
        allow_form_action(self.request, kwargs.get("redirect_uri"))
        return super().get_context_data(**kwargs)

    def create_authorization_response(self, request, scopes, credentials, allow):
        # OIDC Core §3.1.2.1: prompt=consent asks even a client that may skip the consent page.
        if not self.answers_consent and "consent" in prompt_values(request):
            raise ConsentPrompt
        if allow:
            credentials["authentication"] = self.checked_authentication(credentials)
        # For the validator, which creates the code: whether the user just allowed the request on
        # the consent page, remembered then.
        credentials["consent_given"] = self.answers_consent
        return super().create_authorization_response(request, scopes, credentials, allow)

    def level_request(self, claims_request):
        """The acr levels this request asks for: acr_values, and an acr in the claims request."""
        return authentication_context.Request.of(
            self.request.GET.get("acr_values"), as_claims_request(claims_request)
        )

    def checked_authentication(self, credentials):
        """
        How the user authenticated to this session (OIDC Core §2 auth_time, amr, acr), stored with
        the code for its ID tokens (validator.py), once it meets what the client and the request
        ask for: every code is issued here, with the consent page or without it.
        """
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        level_request = self.level_request(credentials.get("claims"))
        authentication = authentication_context.of_session(self.request)
        shortfall = authentication_context.shortfall(self.request, application, level_request, authentication)
        if shortfall is Shortfall.UNMET:
            error = UnmetAuthenticationRequirements(state=credentials.get("state"))
            raise OAuthToolkitError(error, redirect_uri=credentials["redirect_uri"])
        if shortfall is not None:
            raise AuthenticationShortfall(shortfall, application)
        return dataclasses.replace(authentication, level=level_request.reported_level(authentication))

    def answer_shortfall(self, shortfall, application):
        """The way to the second factor a client or request asks for (authentication_context.py)."""
        if "none" in prompt_values(self.request):
            # OIDC Core §3.1.2.6: a page would be needed, which prompt=none forbids.
            return self.error_to_client(InteractionRequired)
        return second_factor_response(
            self.request, shortfall, application, self.authorization_request_path(), self.sign_in_again
        )

    def authorization_request_path(self):
        """This authorization request as a GET, also when it arrived by POST."""
        return f"{self.request.path}?{self.request.GET.urlencode()}"

    def handle_no_permission(self):
        if {"none", "create"} & prompt_values(self.request):
            return super().handle_no_permission()
        return self.sign_in_again()

    def sign_in_again(self):
        """The sign-in page, or for a signed-in user allauth's re-authentication (a real one: its
        password or second factor again); then this request without what signing in satisfied."""
        query = self.request.GET.copy()
        query.pop("max_age", None)
        query.pop("prompt", None)
        other_prompts = prompt_values(self.request) - {"login"}
        if other_prompts:
            query["prompt"] = " ".join(sorted(other_prompts))
        next_url = f"{self.request.path}?{query.urlencode()}"
        if self.request.user.is_authenticated:
            reauthentication = sign_in.reauthentication_url(self.request, next_url)
            if reauthentication is not None:
                return redirect(reauthentication)
        return redirect_to_login(next_url, self.get_login_url())

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
