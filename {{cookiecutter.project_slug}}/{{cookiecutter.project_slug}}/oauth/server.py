"""
The oauthlib server behind every endpoint, and DOT's bridge to it.

`Server` (OIDC_SERVER_CLASS) is oauthlib's OpenID Connect server cut down to what this server
offers; `OAuthLibCore` (OAUTH2_BACKEND_CLASS) turns a Django request into oauthlib's. The views
in this package call the backend, the backend the server, the server the grants, and the grants
the request validator (validator.py).
"""

import re

from oauth2_provider import oauth2_backends
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer

from .claims import parse_claims_request
from .common import check_parameter_limits
from .device import load_device_grant, redeem_device_grant
from .resources import check_resources

# RFC 7636 §4.1: a code_verifier is 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# RFC 7636 §4.2: an S256 code_challenge is BASE64URL(SHA256(verifier)) without padding: 43 characters.
S256_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def check_code_challenge(request):
    """RFC 7636 §4.4.1: a malformed challenge is invalid_request, before the user is asked to consent."""
    if request.code_challenge is not None and not S256_CODE_CHALLENGE.fullmatch(request.code_challenge):
        raise errors.InvalidRequestError(
            "code_challenge is not an S256 challenge: 43 base64url characters.", request=request
        )
    return {}


def check_code_verifier(request):
    """RFC 7636 §4.1 with RFC 6749 §5.2: a verifier of the wrong form is a malformed request,
    invalid_request; invalid_grant (§4.6) is for a well-formed one that does not match."""
    if request.code_verifier is not None and not CODE_VERIFIER.fullmatch(request.code_verifier):
        raise errors.InvalidRequestError(
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~.", request=request
        )


class Server(OpenIDServer):
    """oauthlib's OpenID server, cut down to the grants and methods this server offers."""

    def __init__(self, *args, **kwargs):
        # RFC 8628 §3.4-3.5: a device code is redeemed by the client it was issued to, once
        # that client is authenticated, and only once (oauthlib's custom validators; DOT's
        # own pre_token hook fails with a 500 on a missing device_code).
        kwargs["pre_token"] = [load_device_grant]
        kwargs["post_token"] = [redeem_device_grant]
        super().__init__(*args, **kwargs)
        # RFC 6749 §5.2 and §4.1.2.1: a grant or response type the server does not
        # offer is unsupported_grant_type / unsupported_response_type, instead of
        # running half of a password or implicit flow (RFC 9700 §2.1.2, §2.4).
        offered = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
        self._grant_types = {name: grant for name, grant in self._grant_types.items() if name in offered}
        self._response_types = {"code": self._response_types["code"]}
        code_grants = (self.auth_grant, self.openid_connect_auth.proxy_target)
        for grant in code_grants:
            # RFC 9700 §2.1.1: refuse "plain" (and a missing method, which means plain)
            # when the request arrives, before the user is asked to consent. DOT alone
            # refuses it only after consent, when the code is created.
            grant._code_challenge_methods = {"S256": code_challenge_method_s256}
            # Also before consent: the bounds of what is stored, the challenge's form (RFC 7636 §4.2).
            grant.custom_validators.pre_auth.extend(
                [check_parameter_limits, check_code_challenge, check_resources]
            )
            grant.custom_validators.pre_token.append(check_code_verifier)
        # The token requests whose scope or resources are stored: bounded too (common.py), and
        # for resources the server knows (RFC 8707 §2, resources.py).
        token_grants = (
            *code_grants,
            self.refresh_grant.proxy_target,
            self.credentials_grant,
            self.device_code_grant,
        )
        for grant in token_grants:
            grant.custom_validators.pre_token.extend([check_parameter_limits, check_resources])
        # OIDC Core §5.5: a malformed claims request is invalid_request at the redirect URI.
        self.openid_connect_auth.custom_validators.pre_auth.append(parse_claims_request)


class OAuthLibCore(oauth2_backends.OAuthLibCore):
    """DOT's bridge to oauthlib (OAUTH2_BACKEND_CLASS)."""

    def _get_escaped_full_path(self, request):
        # RFC 3986 §2.1: oauthlib raises (a 500) on a "%" without two hex digits after it. Django
        # has decoded the query leniently already: give oauthlib that, encoded again.
        path = request.get_full_path().partition("?")[0]
        query = request.GET.urlencode()
        return f"{path}?{query}" if query else path

    def authenticated_client(self, request):
        """The client that this request authenticates (RFC 6749 §2.3), or None."""
        oauthlib_request = OAuthlibRequest(*self._extract_params(request))
        if self.server.request_validator.authenticate_client(oauthlib_request):
            return oauthlib_request.client
        return None
