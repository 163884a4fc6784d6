"""
The oauthlib server behind every endpoint, and DOT's bridge to it.

`Server` (OIDC_SERVER_CLASS) is oauthlib's OpenID Connect server cut down to what this server
offers; `OAuthLibCore` (OAUTH2_BACKEND_CLASS) turns a Django request into oauthlib's. The views
in this package call the backend, the backend the server, the server the grants, and the grants
the request validator (validator.py).
"""

from oauth2_provider import oauth2_backends
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer

from .claims import parse_claims_request
from .device import load_device_grant, redeem_device_grant


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
        # RFC 9700 §2.1.1: refuse "plain" (and a missing method, which means plain)
        # when the request arrives, before the user is asked to consent. DOT alone
        # refuses it only after consent, when the code is created.
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = {"S256": code_challenge_method_s256}
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
