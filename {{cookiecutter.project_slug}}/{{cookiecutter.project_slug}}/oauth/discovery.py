"""
The metadata documents clients configure themselves from, at the site root:
OpenID Connect Discovery 1.0 (/.well-known/openid-configuration) and RFC 8414
(/.well-known/oauth-authorization-server). Both name one issuer and say no more than the server does.
"""

import json

from django.http import JsonResponse
from oauth2_provider import views as oauth2_views
from oauth2_provider.settings import oauth2_settings

from .authentication_context import LEVELS
from .common import DEVICE_CODE_GRANT

# OIDC Core §6 request objects are refused (authorization.py). OIDC Discovery 1.0 §3: an absent
# request_uri_parameter_supported means true, so both are said; RFC 8414 §2 admits them too.
REQUEST_OBJECT_METADATA = {"request_parameter_supported": False, "request_uri_parameter_supported": False}


class DeviceMetadataMixin:
    """RFC 8628 §4: metadata names the device authorization endpoint while the grant is offered."""

    def device_metadata(self, request):
        if DEVICE_CODE_GRANT not in oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED:
            return {}
        url = self._get_endpoint_url(request, "device-authorization", required=True)
        return {"device_authorization_endpoint": url}


class RegistrationMetadataMixin:
    """RFC 8414 §2, OIDC Discovery 1.0 §3: the registration endpoint while registration is open
    (registration.py), and `none`, the method of the public clients it registers, only then."""

    def registration_metadata(self, request, document):
        if not oauth2_settings.DCR_ENABLED:
            return {}
        methods = [*document["token_endpoint_auth_methods_supported"], "none"]
        url = self._get_endpoint_url(request, "dcr-register", required=True)
        return {"registration_endpoint": url, "token_endpoint_auth_methods_supported": methods}


def metadata_response(document):
    response = JsonResponse(document)
    # Browser-based clients read these documents from other origins.
    response["Access-Control-Allow-Origin"] = "*"
    return response


class AuthorizationServerMetadataView(
    RegistrationMetadataMixin, DeviceMetadataMixin, oauth2_views.OAuthServerMetadataView
):
    """DOT's RFC 8414 metadata, with the device authorization endpoint."""

    def get(self, request, *args, **kwargs):
        document = json.loads(super().get(request, *args, **kwargs).content)
        document.update(self.registration_metadata(request, document))
        return metadata_response({**document, **REQUEST_OBJECT_METADATA, **self.device_metadata(request)})


class OpenIDConfigurationView(
    RegistrationMetadataMixin, DeviceMetadataMixin, oauth2_views.ConnectDiscoveryInfoView
):
    """DOT's OpenID Provider metadata, saying no more than the server does."""

    def get(self, request, *args, **kwargs):
        document = json.loads(super().get(request, *args, **kwargs).content)
        # HS256 ID tokens are keyed with the client secret, which is stored hashed
        # here, so only RS256 can be issued (OIDC Discovery 1.0 §3).
        document["id_token_signing_alg_values_supported"] = ["RS256"]
        # OIDC Discovery 1.0 §3: an absent grant_types_supported means
        # ["authorization_code", "implicit"], and implicit is off (RFC 9700 §2.1.2).
        document["grant_types_supported"] = list(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)
        # OIDC Discovery 1.0 §3 (absent means false): the claims request parameter of OIDC Core
        # §5.5 is checked (server.py) and honoured within the granted scopes (claims.py).
        document["claims_parameter_supported"] = True
        # OIDC Discovery 1.0 §3: the acr levels an authorization request may ask for, lowest first
        # (authentication_context.py).
        document["acr_values_supported"] = list(LEVELS)
        # RFC 8414 §2 metadata, which OIDC Discovery 1.0 §3 admits too: a client configured
        # from this document alone can also revoke (RFC 7009) and introspect (RFC 7662).
        auth_methods = oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED
        endpoints = {"revocation_endpoint": "revoke-token", "introspection_endpoint": "introspect"}
        for endpoint, view_name in endpoints.items():
            document[endpoint] = self._get_endpoint_url(request, view_name, required=True)
            document[f"{endpoint}_auth_methods_supported"] = auth_methods
        document.update(self.registration_metadata(request, document))
        return metadata_response({**document, **REQUEST_OBJECT_METADATA, **self.device_metadata(request)})
