# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The oauthlib server behind every endpoint, and DOT's bridge to it.

`Server` (OIDC_SERVER_CLASS) is made of oauthlib's OpenID Connect endpoints with only the grants
and response type this server offers; `OAuthLibCore` (OAUTH2_BACKEND_CLASS) turns a Django
request into oauthlib's. The views in endpoints/ call the backend, the backend the server, the
server the grants, and the grants the request validator (validator.py).
"""

from oauth2_provider import oauth2_backends
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request, urlencode
from oauthlib.oauth2 import OAuth2Error
from oauthlib.oauth2.rfc6749.endpoints import (
    AuthorizationEndpoint,
    IntrospectEndpoint,
    ResourceEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types import AuthorizationCodeGrant as OAuth2AuthorizationCodeGrant
from oauthlib.oauth2.rfc6749.grant_types import ClientCredentialsGrant
from oauthlib.oauth2.rfc6749.tokens import BearerToken
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant
from oauthlib.openid.connect.core.endpoints.userinfo import UserInfoEndpoint
from oauthlib.openid.connect.core.grant_types import AuthorizationCodeGrant, RefreshTokenGrant
from oauthlib.openid.connect.core.grant_types.dispatchers import (
    AuthorizationCodeGrantDispatcher,
    AuthorizationTokenGrantDispatcher,
)

from .claims import parse_claims_request
from .device_codes import redeem_device_grant
from .parameters import check_code_challenge, check_code_verifier, check_parameter_limits
from .resources import check_resources

# Before the user is asked to consent: the bounds of what is stored, PKCE's S256 challenge
# (RFC 9700 §2.1.1, RFC 7636 §4.2), resources the server knows (RFC 8707 §2).
CHECKS_BEFORE_CONSENT = [check_parameter_limits, check_code_challenge, check_resources]
# Before a token is issued: the same bounds and resources for what the token request stores.
CHECKS_BEFORE_TOKEN = [check_parameter_limits, check_resources]


class Server(
    AuthorizationEndpoint,
    IntrospectEndpoint,
    TokenEndpoint,
    ResourceEndpoint,
    RevocationEndpoint,
    UserInfoEndpoint,
):
    """
    oauthlib's OpenID Connect server (oauthlib.openid.Server) built from its public parts, with
    only what this server offers: the `code` response type, and the grants
    OAUTH2_GRANT_TYPES_SUPPORTED names. Any other is unsupported_response_type or
    unsupported_grant_type (RFC 6749 §4.1.2.1, §5.2), instead of half of an implicit or password
    flow (RFC 9700 §2.1.2, §2.4).
    """

    def __init__(
        self,
        request_validator,
        token_expires_in=None,
        token_generator=None,
        refresh_token_generator=None,
        **kwargs,
    ):
        code = OAuth2AuthorizationCodeGrant(
            request_validator,
            pre_auth=[*CHECKS_BEFORE_CONSENT],
            pre_token=[check_code_verifier, *CHECKS_BEFORE_TOKEN],
        )
        # OIDC Core §5.5: a malformed claims request is invalid_request at the redirect URI.
        openid_code = AuthorizationCodeGrant(
            request_validator,
            pre_auth=[*CHECKS_BEFORE_CONSENT, parse_claims_request],
            pre_token=[check_code_verifier, *CHECKS_BEFORE_TOKEN],
        )
        # RFC 8628 §3.4-3.5: a device code is redeemed by the client it was issued to, once that
        # client is authenticated (oauthlib asks Validator.validate_device_code), and only once
        # (device_codes.py). DOT's own pre-token hook (OAUTH_PRE_TOKEN_VALIDATION) answers from the
        # grant before the client is authenticated, and fails with a 500 on a missing device_code.
        kwargs.pop("pre_token", None)
        device = DeviceCodeGrant(
            request_validator,
            pre_token=[*CHECKS_BEFORE_TOKEN],
            post_token=[redeem_device_grant],
            **kwargs,
        )
        grants = {
            "authorization_code": AuthorizationTokenGrantDispatcher(
                request_validator, default_grant=code, oidc_grant=openid_code
            ),
            "refresh_token": RefreshTokenGrant(request_validator, pre_token=[*CHECKS_BEFORE_TOKEN]),
            "client_credentials": ClientCredentialsGrant(request_validator, pre_token=[*CHECKS_BEFORE_TOKEN]),
            "urn:ietf:params:oauth:grant-type:device_code": device,
        }
        offered = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
        bearer = BearerToken(request_validator, token_generator, token_expires_in, refresh_token_generator)
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={
                "code": AuthorizationCodeGrantDispatcher(default_grant=code, oidc_grant=openid_code)
            },
            default_token_type=bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={name: grant for name, grant in grants.items() if name in offered},
            default_token_type=bearer,
        )
        # A JWT access token (RFC 9068, access_tokens.py) is a bearer token like any other,
        # stored and checked as one: oauthlib's JWTToken type would take any JWT, an ID token
        # too, for one (OIDC Core §2: an ID token's audience is the client).
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": bearer})
        RevocationEndpoint.__init__(self, request_validator)
        IntrospectEndpoint.__init__(self, request_validator)
        UserInfoEndpoint.__init__(self, request_validator)


class OAuthLibCore(oauth2_backends.OAuthLibCore):
    """DOT's bridge to oauthlib (OAUTH2_BACKEND_CLASS)."""

    def _get_escaped_full_path(self, request):
        # RFC 3986 §2.1: oauthlib raises (a 500) on a "%" without two hex digits after it. Django
        # has decoded the query leniently already: give oauthlib that, encoded again. DOT has no
        # public seam for the URI it hands oauthlib (tests/test_private_names.py guards this one).
        path = request.get_full_path().partition("?")[0]
        query = request.GET.urlencode()
        return f"{path}?{query}" if query else path

    @staticmethod
    def bearer_headers(request):
        """The one header a bearer check reads (RFC 6750 §2.1): oauthlib's request made from every
        header of the Django request was a third of the cost of /api/me/ (docs/performance.md)."""
        authorization = request.headers.get("Authorization")
        return {} if authorization is None else {"Authorization": authorization}

    def verify_request(self, request, scopes):
        # The bearer check of every protected resource, DRF's authentication too: DOT's, on an
        # oauthlib request built from what a bearer check reads: the URI (the audience, RFC
        # 8707), the Authorization header, the form body (RFC 6750 §2.2). The checks are the
        # Bearer token type's own (BearerToken.validate_request: the validator's
        # validate_bearer_token, through the token cache): expiry, scopes, audience, a disabled
        # client, revocation. oauthlib's ResourceEndpoint would first guess the token type: this
        # server has one, Bearer (Server above).
        if "access_token" in request.GET:
            # OAuth 2.1 §5.2, RFC 9700 §4.3.2: never in the query string.
            return False, None
        uri = request.build_absolute_uri(self._get_escaped_full_path(request))
        body = urlencode(self.extract_body(request))
        bearer_request = Request(uri, request.method, body, self.bearer_headers(request))
        bearer_request.scopes = scopes
        return self.server.default_token_type_handler.validate_request(bearer_request), bearer_request

    def create_userinfo_response(self, request):
        # DOT's, with the headers of a bearer check only (bearer_headers): UserInfo's claims are
        # the token's user's (OIDC Core §5.3), nothing else of the request is read.
        uri = self._get_escaped_full_path(request)
        body = urlencode(self.extract_body(request))
        try:
            headers, body, status = self.server.create_userinfo_response(
                uri, request.method, body, self.bearer_headers(request)
            )
        except OAuth2Error as error:
            return None, error.headers, error.json, error.status_code
        return headers.get("Location", None), headers, body, status

    def authenticate_client(self, request):
        # DOT's check (RFC 6749 §2.3.1), which answers a bare bool, keeping the client it loaded on
        # the Django request (`authenticated_client`, None after a failure), so that a view needs no
        # second lookup. DOT has no public seam that turns a Django request into oauthlib's
        # (tests/test_private_names.py guards _extract_params).
        oauthlib_request = Request(*self._extract_params(request))
        authenticated = self.server.request_validator.authenticate_client(oauthlib_request)
        request.authenticated_client = oauthlib_request.client if authenticated else None
        return authenticated
