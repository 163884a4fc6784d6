"""
Where the project closes gaps between django-oauth-toolkit and the specs.

Each fix is small and names the section it implements; remove one once DOT
does the right thing itself.
"""

import hashlib
import json
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import oauth2_backends, oauth2_validators
from oauth2_provider import views as oauth2_views
from oauth2_provider.exceptions import InvalidOIDCClientError, OAuthToolkitError
from oauth2_provider.models import (
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.metadata import ServerMetadataViewMixin
from oauth2_provider.views.mixins import ProtectedResourceMetadataMixin
from oauthlib.oauth2 import DeviceApplicationServer
from oauthlib.oauth2.rfc6749 import errors, utils
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.oauth2.rfc8628 import errors as device_errors
from oauthlib.openid import Server as OpenIDServer

from ..security_headers import allow_form_action

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The scheme clients authenticate with at the token, revocation and introspection endpoints.
CLIENT_AUTHENTICATION_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'


class Server(OpenIDServer):
    """oauthlib's OpenID server, cut down to the grants and methods this server offers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # RFC 6749 §5.2 and §4.1.2.1: a grant or response type the server does not
        # offer is unsupported_grant_type / unsupported_response_type, instead of
        # running half of a password or implicit flow (RFC 9700 §2.1.2, §2.4).
        offered = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
        self._grant_types = {name: grant for name, grant in self._grant_types.items() if name in offered}
        self._response_types = {"code": self._response_types["code"]}
        # RFC 9700 §2.1.1: refuse "plain" (and a missing method, which means plain)
        # when the request arrives, before the user is asked to consent. DOT alone
        # refuses it only after consent, when the code is created.
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = {"S256": code_challenge_method_s256}
        # RFC 8628 §3.4-3.5: a device code is redeemed by the client it was issued to,
        # once the client is authenticated, and only once. See TokenView.
        device_validators = self.device_code_grant.custom_validators
        device_validators.pre_token = [load_device_grant]
        device_validators.post_token = [redeem_device_grant]


def load_device_grant(request):
    """The user and scopes of a device token come from the grant the user approved."""
    device_code = getattr(request, "device_code", None)
    if not device_code:
        raise errors.InvalidRequestError("Missing device_code parameter.", request=request)
    # Locked until the request's transaction ends (ATOMIC_REQUESTS): of two polls at
    # once, only the first can redeem it.
    grants = get_device_grant_model().objects.select_for_update()
    device_grant = grants.filter(device_code=device_code).first()
    if device_grant is None:
        # RFC 6749 §5.2 (DOT answers 404 device_not_found).
        raise errors.InvalidGrantError("Unknown device_code.", request=request)
    request.device_grant = device_grant
    request.user = device_grant.user
    request.scopes = device_grant.scope.split()


def redeem_device_grant(request):
    """RFC 8628 §3.5: answer a poll from the state of the grant; issue a token only once."""
    device_grant = request.device_grant
    if device_grant.client_id != request.client.client_id:
        raise errors.InvalidGrantError("The device_code was issued to another client.", request=request)
    if device_grant.status == device_grant.DENIED:
        raise device_errors.AccessDenied(request=request)
    if device_grant.is_expired():
        raise device_errors.ExpiredTokenError(request=request)
    if device_grant.status != device_grant.AUTHORIZED:
        raise device_errors.AuthorizationPendingError(request=request)
    # The authorization session has concluded: a replay of the code gets expired_token.
    device_grant.status = device_grant.EXPIRED
    device_grant.save(update_fields=["status"])


class ClientAuthenticationErrors:
    """RFC 6749 §5.2 error responses where clients authenticate: the token and revocation endpoints."""

    # A dispatch of its own hides DOT's csrf_exempt one: clients post here, not browsers.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 401:
            # RFC 6749 §5.2: the challenge names the scheme clients authenticate with (oauthlib: Bearer).
            response["WWW-Authenticate"] = CLIENT_AUTHENTICATION_CHALLENGE
        if response.content:
            # RFC 6749 §5.1-5.2: the body is JSON; oauthlib leaves the type off some errors.
            response["Content-Type"] = "application/json"
        return response


class TokenView(ClientAuthenticationErrors, oauth2_views.TokenView):
    """DOT's token endpoint, with device codes checked by oauthlib like every other grant."""

    def post(self, request, *args, **kwargs):
        # DOT answers a device poll from the grant's state before it authenticates the
        # client or checks whose code it is, and with a 500 when device_code is missing.
        return self.authorization_flow_token_response(request)


class DeviceAuthorizationServer(DeviceApplicationServer):
    """oauthlib's device authorization endpoint (RFC 8628 §3.1-3.2), with the checks it leaves out."""

    def validate_device_authorization_request(self, request):
        # RFC 6749 Appendix B: the media type counts, not a charset parameter after it;
        # oauthlib compares the whole header, and fails with a 500 when there is none.
        media_type = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise errors.InvalidRequestError(
                "Content-Type must be application/x-www-form-urlencoded.", request=request
            )
        request.headers["Content-Type"] = media_type
        # As oauthlib's token, revocation and introspection endpoints: parameters travel in the
        # body only (DOT would otherwise read the raw URL again, and fail on a bad query with a 500).
        self._raise_on_bad_post_request(request)
        try:
            super().validate_device_authorization_request(request)
        except errors.InvalidClientIdError as error:
            # RFC 6749 §5.2: an unknown client is invalid_client (oauthlib: invalid_request).
            raise errors.InvalidClientError(request=request) from error
        # RFC 8628 §3.2 with RFC 6749 §5.2: refuse a client without the grant, or a scope it
        # may not have, now rather than after the user has approved it.
        validator = self.request_validator
        if not validator.validate_grant_type(request.client_id, DEVICE_CODE_GRANT, request.client, request):
            raise errors.UnauthorizedClientError(request=request)
        scopes = utils.scope_to_list(request.scope) or []
        if not validator.validate_scopes(request.client_id, scopes, request.client, request):
            raise errors.InvalidScopeError(request=request)


class DeviceAuthorizationView(ServerMetadataViewMixin, oauth2_views.DeviceAuthorizationView):
    server_class = DeviceAuthorizationServer

    def create_device_authorization_response(self, request):
        headers, data, status = super().create_device_authorization_response(request)
        if status == 200 and not oauth2_settings.OAUTH_DEVICE_VERIFICATION_URI:
            # RFC 8628 §3.2: the verification URI is absolute. Without a fixed
            # OAUTH_DEVICE_VERIFICATION_URI it is on the issuer's origin, like discovery's URLs.
            verification_uri = self._get_endpoint_url(request, "device", required=True)
            data["verification_uri"] = verification_uri
            query = urlencode({"user_code": data["user_code"]})
            data["verification_uri_complete"] = f"{verification_uri}?{query}"
        return headers, data, status


class DeviceMetadataMixin:
    """RFC 8628 §4: metadata names the device authorization endpoint while the grant is offered."""

    def device_metadata(self, request):
        if DEVICE_CODE_GRANT not in oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED:
            return {}
        url = self._get_endpoint_url(request, "device-authorization", required=True)
        return {"device_authorization_endpoint": url}


def metadata_response(document):
    response = JsonResponse(document)
    response["Access-Control-Allow-Origin"] = "*"
    return response


class AuthorizationServerMetadataView(DeviceMetadataMixin, oauth2_views.OAuthServerMetadataView):
    """DOT's RFC 8414 metadata, with the device authorization endpoint."""

    def get(self, request, *args, **kwargs):
        document = json.loads(super().get(request, *args, **kwargs).content)
        return metadata_response({**document, **self.device_metadata(request)})


class OpenIDConfigurationView(DeviceMetadataMixin, oauth2_views.ConnectDiscoveryInfoView):
    """DOT's OpenID Provider metadata, saying no more than the server does."""

    def get(self, request, *args, **kwargs):
        document = json.loads(super().get(request, *args, **kwargs).content)
        # HS256 ID tokens are keyed with the client secret, which is stored hashed
        # here, so only RS256 can be issued (OIDC Discovery 1.0 §3).
        document["id_token_signing_alg_values_supported"] = ["RS256"]
        # OIDC Discovery 1.0 §3: an absent grant_types_supported means
        # ["authorization_code", "implicit"], and implicit is off (RFC 9700 §2.1.2).
        document["grant_types_supported"] = list(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)
        # RFC 8414 §2 metadata, which OIDC Discovery 1.0 §3 admits too: a client configured
        # from this document alone can also revoke (RFC 7009) and introspect (RFC 7662).
        auth_methods = oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED
        endpoints = {"revocation_endpoint": "revoke-token", "introspection_endpoint": "introspect"}
        for endpoint, view_name in endpoints.items():
            document[endpoint] = self._get_endpoint_url(request, view_name, required=True)
            document[f"{endpoint}_auth_methods_supported"] = auth_methods
        return metadata_response({**document, **self.device_metadata(request)})


class Validator(oauth2_validators.OAuth2Validator):
    """DOT's request validator with its gaps closed; the project's own validator builds on it."""

    def validate_silent_login(self, request):
        # OIDC Core §3.1.2.1 prompt=none: only the view knows the session, so AuthorizationView
        # answers login_required and consent_required itself (oauthlib would raise a 500 here).
        return True

    def validate_silent_authorization(self, request):
        return True

    def _load_application(self, client_id, request):
        # RFC 6749 Appendix A.1: a client_id is printable. DOT turns psycopg2's ValueError on a
        # NUL into "no such client", but psycopg 3 raises DataError: a 500 on PostgreSQL.
        if client_id and "\x00" in client_id:
            return None
        return super()._load_application(client_id, request)

    def authenticate_client(self, request, *args, **kwargs):
        try:
            return super().authenticate_client(request, *args, **kwargs)
        except ValueError:
            # RFC 6749 §2.3.1: unreadable credentials fail authentication (DOT: a 500 on non-ASCII Basic).
            return False

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if "\x00" in code:
            # RFC 6749 Appendix A.11: no code holds a NUL, which PostgreSQL cannot even compare.
            return False
        # Locked until the request's transaction ends (ATOMIC_REQUESTS): of two redemptions at
        # once, the second waits, then finds the code used (DOT would issue tokens twice).
        get_grant_model().objects.select_for_update().filter(code=code).first()
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
        get_refresh_token_model().revoke_family(token_family_of_code(code))
        return False

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        if super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs):
            return True
        # RFC 6749 §5.2: a redirect URI unlike the authorization request's is invalid_grant.
        raise errors.InvalidGrantError(
            "redirect_uri differs from the authorization request's.", request=request
        )

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code" and "refresh_token" in token:
            # Named after the code, so that a replay of the code finds it (validate_code).
            checksum = hashlib.sha256(token["refresh_token"].encode()).hexdigest()
            refresh_tokens = get_refresh_token_model().objects.filter(token_checksum=checksum)
            refresh_tokens.update(token_family=token_family_of_code(request.code))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        # Of two refreshes with one token at once, the second waits here for the first to
        # commit, then sees the token rotated: a replay (RFC 9700 §4.14.2), not a second success.
        checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
        list(get_refresh_token_model().objects.select_for_update().filter(token_checksum=checksum))
        return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)


CODE_FAMILY_NAMESPACE = uuid.UUID("5b1f4c52-8d0e-4f57-9a43-0d1c6e2f7a18")


def token_family_of_code(code):
    """The refresh-token family of the tokens issued for an authorization code."""
    return uuid.uuid5(CODE_FAMILY_NAMESPACE, code)


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
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            # RFC 6749 Appendix A: no parameter holds a NUL (PostgreSQL could not store the nonce).
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


class RevokeTokenView(ClientAuthenticationErrors, oauth2_views.RevokeTokenView):
    """DOT's revocation endpoint (RFC 7009), with RFC 6749 §5.2's error responses."""


class IntrospectTokenView(ProtectedResourceMetadataMixin, oauth2_views.IntrospectTokenView):
    """DOT's introspection endpoint: POST only, and RFC 7662 §2.3's answer to a failed authentication."""

    # RFC 7662 §2.1: POST; DOT also reads the token from a GET's URL, which ends up in logs.
    http_method_names = ["post", "options"]

    def unauthenticated_response(self, request, oauthlib_request=None):
        if request.headers.get("Authorization", "").startswith("Bearer "):
            # RFC 7662 §2.3: a bearer token that may not introspect gets RFC 6750's challenge.
            return super().unauthenticated_response(request, oauthlib_request)
        # RFC 7662 §2.3: failed client authentication is answered as RFC 6749 §5.2 says (DOT: bare 403).
        response = JsonResponse({"error": "invalid_client"}, status=401)
        response["WWW-Authenticate"] = CLIENT_AUTHENTICATION_CHALLENGE
        return response


class LogoutView(oauth2_views.RPInitiatedLogoutView):
    """OIDC RP-Initiated Logout, whose confirmation form's answer redirects to the client."""

    def get_request_application(self, id_token, client_id):
        if client_id and "\x00" in client_id:
            # RFC 6749 Appendix A.1 (see Validator._load_application).
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


class OAuthLibCore(oauth2_backends.OAuthLibCore):
    """DOT's bridge to oauthlib (OAUTH2_BACKEND_CLASS)."""

    def _get_escaped_full_path(self, request):
        # RFC 3986 §2.1: oauthlib raises (a 500) on a "%" without two hex digits after it. Django
        # has decoded the query leniently already: give oauthlib that, encoded again.
        path = request.get_full_path().partition("?")[0]
        query = request.GET.urlencode()
        return f"{path}?{query}" if query else path
