# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The authorization endpoint (RFC 6749 §3.1, §4.1.1-4.1.2; OpenID Connect Core 1.0 §3.1.2): the
first thing a user's browser reaches. It signs the user in (allauth's pages, authserver/sign_in.py),
asks for consent (authserver/templates/oauth2_provider/authorize.html), and redirects back to the
client with a code or an error. DOT's view does the OAuth part; this one adds OpenID Connect's,
in the order of `AuthorizationView.get`, each check an explicit step that either lets the request
go on or answers it:

1. request objects are refused (OIDC Core §6), even before signing in (`dispatch`);
2. NUL bytes and a malformed max_age are invalid_request (RFC 6749 Appendix A, OIDC Core §3.1.2.1);
3. prompt=login, or a sign-in older than max_age, asks the user to sign in again;
4. with open sign-up, the user must have verified an e-mail address (ServerAdapter);
5. id_token_hint must name the signed-in user;
6. the request itself: client, redirect URI, scopes, PKCE, resources, checked by oauthlib
   through DOT (server.py, validator.py), once per request;
7. the session's authentication must reach what the client and the request ask for (acr_values,
   an essential acr, a client requiring multi-factor: authentication_context.py): a user with a
   second factor is sent to use it, one without to enrol;
8. a consent the adapter says suffices (ServerAdapter.skip_consent) issues the code at once;
   prompt=none without it is consent_required;
9. otherwise DOT's consent page, whose form posts back here (`post`), and DOT creates the code.

An authorization request may arrive by POST (OIDC Core §3.1.2.1): its body's parameters are read
as a GET's query (`as_query_request`), the request itself left as it is.
"""

import copy
import json
import re
from dataclasses import dataclass, replace
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

from .. import authentication_context, claims, sign_in
from ..adapter import get_adapter
from ..authentication_context import Shortfall
from ..consent import about_client
from ..csp import allow_form_action
from ..parameters import has_nul
from ..scopes import describe_scopes
from ..view_policy import PRIVATE_PAGE, declare

# The consent page's form (templates/oauth2_provider/authorize.html) carries this field, and its
# Allow button DOT's `allow`: a POST with either answers the consent page. Any other POST is an
# authorization request.
CONSENT_ANSWER_FIELDS = {"consent_form", "allow"}
# The parameters a NUL makes unusable for finding the client and where to send its errors.
CLIENT_PARAMETERS = ("client_id", "redirect_uri")
# What create_authorization_response answers instead of a code's URI when the consent page must be
# shown to a client that would skip it (prompt=consent): redirect() renders the page for it.
CONSENT_PAGE = object()


class UnmetAuthenticationRequirements(errors.OAuth2Error):
    """
    OpenID Connect Core Error Code unmet_authentication_requirements 1.0 §2: the error for an
    essential acr (OIDC Core §5.5.1.1) this server cannot meet, which OIDC Core treats as a
    failed authentication. oauthlib has no class for it.
    https://openid.net/specs/openid-connect-unmet-authentication-requirements-1_0.html
    """

    error = "unmet_authentication_requirements"
    description = "The sign-in cannot reach the authentication context class the client requires (acr)."


def answers_consent_page(request):
    return request.method == "POST" and not CONSENT_ANSWER_FIELDS.isdisjoint(request.POST)


def as_query_request(request):
    """OIDC Core §3.1.2.1: an authorization request by POST carries its parameters form-encoded in
    the body; DOT and oauthlib read them from the query. A copy of the request whose query is the
    body's parameters, and whose body is empty (oauthlib would otherwise see them twice)."""
    if request.method != "POST":
        return request
    query_request = copy.copy(request)
    query_request.GET = request.POST.copy()
    query_request.POST = QueryDict()
    return query_request


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


@dataclass(frozen=True)
class Checked:
    """An authorization request as oauthlib validated it (step 6): what the later steps decide on."""

    scopes: list
    credentials: dict
    application: object


# OIDC Core §3.1.2.1: the authorization endpoint MUST support POST as well as GET, the
# parameters form-encoded in the body. Such a POST comes from the client's page on another
# origin, so it cannot carry our CSRF token: the view is exempt, and only the consent form's
# answer (CONSENT_ANSWER_FIELDS), the one POST that approves anything, is checked (csrf_protect,
# RFC 6749 §10.12). An authorization request by POST can do no more than the same request by GET,
# which any page can send a browser to. (Browsers do not send the SameSite=Lax session cookie
# with another site's POST: such a request meets the login page, and prompt=none login_required.)
@declare(PRIVATE_PAGE)
@method_decorator(csrf_exempt, name="dispatch")
class AuthorizationView(oauth2_views.AuthorizationView):
    """DOT's authorization endpoint, with OIDC Core's POST, prompt, max_age, id_token_hint and
    acr, the adapter's consent decision, request objects refused, and RFC 9207 on errors."""

    # The request as oauthlib validated it (step 6), once per request; None until then.
    checked = None
    # How the user authenticated to this session (step 7), recorded with the code; None until then.
    authentication = None

    def dispatch(self, request, *args, **kwargs):
        if answers_consent_page(request):
            return csrf_protect(super().dispatch)(request, *args, **kwargs)
        self.request = request = as_query_request(request)
        # Step 1, OIDC Core §6.1, §6.2: request objects are not supported, which discovery says
        # too; an error, never the parameters inside silently ignored. Before signing in: it
        # cannot succeed.
        if "request" in request.GET:
            return self.error_to_client(RequestNotSupported)
        if "request_uri" in request.GET:
            return self.error_to_client(RequestURINotSupported)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        """An authorization request (DOT asked for a signed-in user first): steps 2 to 9."""
        steps = (
            self.check_parameters,
            self.check_sign_in_freshness,
            self.check_verified_email,
            self.check_id_token_hint,
            self.check_request,
            self.check_authentication_level,
            self.check_consent_on_record,
        )
        for step in steps:
            answer = step(request)
            if answer is not None:
                return answer
        # Step 9: DOT's consent page, or for a client that skips it, the code.
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if not answers_consent_page(request):
            # An authorization request by POST, its parameters read as a query (dispatch).
            return self.get(request, *args, **kwargs)
        # The consent page's answer: the session must still reach the authentication the client
        # asks for before DOT creates a code (a page may be answered long after it was shown).
        form = self.get_form()
        if form.is_valid() and form.cleaned_data.get("allow"):
            application = (
                get_application_model().objects.filter(client_id=form.cleaned_data["client_id"]).first()
            )
            if application is None:
                error = errors.InvalidClientIdError()
                return self.error_response(OAuthToolkitError(error), application=None)
            level_request = self.level_request(form.cleaned_data.get("claims"))
            answer = self.answer_authentication_level(application, level_request, form.cleaned_data)
            if answer is not None:
                return answer
        return super().post(request, *args, **kwargs)

    # Step 2: parameters DOT does not check

    def check_parameters(self, request):
        values = [value for _, values in request.GET.lists() for value in values]
        if has_nul(*values):
            # The nonce, for one, could not be stored on PostgreSQL; with a NUL in the client_id or
            # redirect URI, nothing tells where an error could go: the error page.
            if has_nul(*(request.GET.get(name) for name in CLIENT_PARAMETERS)):
                error = errors.InvalidRequestFatalError(description="NUL in a parameter.")
                return self.error_response(OAuthToolkitError(error), application=None)
            return self.error_to_client(errors.InvalidRequestError, description="NUL in a parameter.")
        max_age = request.GET.get("max_age")
        if max_age is not None and not re.fullmatch(r"[0-9]{1,9}", max_age):
            return self.error_to_client(errors.InvalidRequestError, description="max_age is not a number.")
        return None

    # Step 3: OIDC Core §3.1.2.1 prompt=login and max_age

    def check_sign_in_freshness(self, request):
        prompt = prompt_values(request)
        if "login" not in prompt and not authenticated_longer_ago_than(request, request.GET.get("max_age")):
            return None
        if prompt == {"none"}:
            return self.error_to_client(errors.LoginRequired)
        if "none" in prompt:
            # none with another value is itself invalid: oauthlib says so at step 6.
            return None
        return self.sign_in_again()

    # Step 4: a verified e-mail address, where the adapter requires one

    def check_verified_email(self, request):
        if not get_adapter().email_verification_required(request.user):
            return None
        if "none" in prompt_values(request):
            # prompt=none shows no page (OIDC Core §3.1.2.6).
            return self.error_to_client(
                InteractionRequired, description="The e-mail address is not verified."
            )
        return sign_in.ask_to_verify_email(request)

    # Step 5: OIDC Core §3.1.2.1 id_token_hint

    def check_id_token_hint(self, request):
        """A positive answer only for the user the ID token names (oauthlib's validate_user_match,
        which DOT answers True, never sees the session's user)."""
        id_token_hint = request.GET.get("id_token_hint")
        if id_token_hint is None:
            return None
        subject = id_token_subject(id_token_hint, oauth2_settings.oidc_issuer(request))
        if subject is None:
            return self.error_to_client(
                errors.InvalidRequestError, description="id_token_hint is not an ID token of this server."
            )
        if subject != get_adapter().subject(request.user):
            return self.error_to_client(errors.LoginRequired, description="Signed in as another user.")
        return None

    # Step 6: the request, as oauthlib validates it

    def check_request(self, request):
        try:
            self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        return None

    def validate_authorization_request(self, request):
        # Once per request: DOT's get asks again, and an early error needs the redirect URI checked.
        if self.checked is None:
            scopes, credentials = super().validate_authorization_request(request)
            application = get_application_model().objects.get(client_id=credentials["client_id"])
            self.checked = Checked(scopes, credentials, application)
        return self.checked.scopes, self.checked.credentials

    # Step 7: the authentication the client and the request ask for (authentication_context.py)

    def check_authentication_level(self, request):
        level_request = self.level_request(self.checked.credentials.get("claims"))
        return self.answer_authentication_level(
            self.checked.application, level_request, self.checked.credentials
        )

    def level_request(self, claims_request):
        """The acr levels this request asks for: acr_values, and an acr in the claims request."""
        return authentication_context.Request.of(
            self.request.GET.get("acr_values"), as_claims_request(claims_request)
        )

    def answer_authentication_level(self, application, level_request, credentials):
        """None where the session may go on (and the authentication to record with the code is
        kept for create_authorization_response); else the way to what it lacks, or the error."""
        authentication = authentication_context.of_session(self.request)
        shortfall = authentication_context.shortfall(self.request, application, level_request, authentication)
        if shortfall is Shortfall.UNMET:
            error = UnmetAuthenticationRequirements(state=credentials.get("state"))
            return self.error_response(
                OAuthToolkitError(error, redirect_uri=credentials["redirect_uri"]), application
            )
        if shortfall is not None:
            if "none" in prompt_values(self.request):
                # OIDC Core §3.1.2.6: a page would be needed, which prompt=none forbids.
                return self.error_to_client(InteractionRequired)
            return second_factor_response(
                self.request, shortfall, application, self.authorization_request_path(), self.sign_in_again
            )
        # OIDC Core §2 auth_time, amr, acr, stored with the code for its ID tokens (validator.py).
        self.authentication = replace(authentication, level=level_request.reported_level(authentication))
        return None

    # Step 8: a consent that suffices, OIDC Core §3.1.2.4

    def check_consent_on_record(self, request):
        prompt = prompt_values(request)
        if "consent" in prompt or self.checked.application.skip_authorization:
            # The page, even for a client that skips it (OIDC Core §3.1.2.1: prompt=consent); or
            # DOT's own way for a client that skips it, at step 9.
            return None
        if get_adapter().skip_consent(request, self.checked.application, self.checked.scopes):
            return self.allow_as_before(request)
        if prompt == {"none"}:
            # OIDC Core §3.1.2.1: prompt=none shows no page; without a consent that suffices,
            # consent_required.
            return self.error_to_client(errors.ConsentRequired)
        return None

    def allow_as_before(self, request):
        """The consent form's answer, Allow, as the user gave it before: DOT creates the code."""
        page = super().get(request)
        if page.status_code != 200:
            return page
        remembered = self.get_form_class()(data={**self.get_initial(), "allow": True})
        if not remembered.is_valid():
            return page
        return self.form_valid(remembered)

    # Step 9 and the consent page's answer: DOT creates the code here

    def create_authorization_response(self, request, scopes, credentials, allow):
        if not answers_consent_page(self.request) and "consent" in prompt_values(self.request):
            # DOT's get issues a code at once to a client that skips the consent page; prompt=consent
            # asks all the same (OIDC Core §3.1.2.1): no code, and redirect() gets the page instead.
            return CONSENT_PAGE, {}, None, 200
        if allow:
            credentials["authentication"] = self.authentication
        # For the validator, which creates the code: whether the user just allowed the request on
        # the consent page, remembered then.
        credentials["consent_given"] = answers_consent_page(self.request)
        return super().create_authorization_response(request, scopes, credentials, allow)

    def redirect(self, redirect_to, application):
        if redirect_to is CONSENT_PAGE:
            # DOT's get built the page's context before it offered to skip it (self.oauth2_data).
            return self.render_to_response(self.get_context_data(**self.oauth2_data))
        # RFC 9207 §2: error responses carry the issuer too (DOT adds it to successes only).
        issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
        return super().redirect(with_issuer(redirect_to, issuer), application)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if not answers_consent_page(self.request):
            # An authorization request by POST fills the consent form in; only an answer fills it out.
            kwargs.pop("data", None)
            kwargs.pop("files", None)
        return kwargs

    def get_context_data(self, **kwargs):
        # The consent form's answer redirects to the client (a validated redirect URI by now).
        allow_form_action(self.request, kwargs.get("redirect_uri"))
        context = super().get_context_data(**kwargs)
        if "scopes" in kwargs:
            # In the server's order, as the consents page lists them, not the client's.
            context["scopes_descriptions"] = describe_scopes(kwargs["scopes"])
        application = context.get("application")
        if application is not None:
            # The page shows more than the client's self-chosen name (RFC 6749 §10.2, RFC 7591 §5).
            context["about_client"] = about_client(application, kwargs.get("redirect_uri"))
        return context

    # Answers

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
        """OIDC Core §3.1.2.6: an error for the client, sent once its redirect URI is known to be
        registered."""
        try:
            _scopes, credentials = self.validate_authorization_request(self.request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        error = OAuthToolkitError(
            error_class(state=credentials.get("state"), **kwargs), redirect_uri=credentials["redirect_uri"]
        )
        return self.error_response(error, self.checked.application)
