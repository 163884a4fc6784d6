"""
Where the project closes gaps between django-oauth-toolkit and the specs.

Each fix is small and names the section it implements; remove one once DOT
does the right thing itself.
"""

import json

from django.http import JsonResponse
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import ConnectDiscoveryInfoView
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer


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


class OpenIDConfigurationView(ConnectDiscoveryInfoView):
    """DOT's OpenID Provider metadata, saying no more than the server does."""

    def get(self, request, *args, **kwargs):
        document = json.loads(super().get(request, *args, **kwargs).content)
        # HS256 ID tokens are keyed with the client secret, which is stored hashed
        # here, so only RS256 can be issued (OIDC Discovery 1.0 §3).
        document["id_token_signing_alg_values_supported"] = ["RS256"]
        # OIDC Discovery 1.0 §3: an absent grant_types_supported means
        # ["authorization_code", "implicit"], and implicit is off (RFC 9700 §2.1.2).
        document["grant_types_supported"] = list(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)
        response = JsonResponse(document)
        response["Access-Control-Allow-Origin"] = "*"
        return response
