# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The metadata documents clients configure themselves from, at the site root:
OpenID Connect Discovery 1.0 (/.well-known/openid-configuration) and RFC 8414
(/.well-known/oauth-authorization-server). Both name one issuer and say no more than the server
does. RFC 9728 protected resource metadata is DOT's view, declared here too.
"""

import json

from django.http import JsonResponse
from oauth2_provider import views as oauth2_views
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from ..authentication_context import levels
from ..issuer import endpoint_url
from ..view_policy import METADATA, declare

# OIDC Core §6 request objects are refused (authorization.py). OIDC Discovery 1.0 §3: an absent
# request_uri_parameter_supported means true, so both are said; RFC 8414 §2 admits them too.
REQUEST_OBJECT_METADATA = {"request_parameter_supported": False, "request_uri_parameter_supported": False}


def device_metadata(request):
    """RFC 8628 §4: metadata names the device authorization endpoint while the grant is offered."""
    if AbstractApplication.GRANT_DEVICE_CODE not in oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED:
        return {}
    return {"device_authorization_endpoint": endpoint_url(request, "device-authorization")}


def registration_metadata(request, document):
    """RFC 8414 §2, OIDC Discovery 1.0 §3: the registration endpoint while registration is open
    (registration.py), and `none`, the method of the public clients it registers, only then."""
    if not oauth2_settings.DCR_ENABLED:
        return {}
    methods = [*document["token_endpoint_auth_methods_supported"], "none"]
    return {
        "registration_endpoint": endpoint_url(request, "dcr-register"),
        "token_endpoint_auth_methods_supported": methods,
    }


def metadata_response(request, document):
    document = {
        **document,
        **registration_metadata(request, document),
        **REQUEST_OBJECT_METADATA,
        **device_metadata(request),
    }
    response = JsonResponse(document)
    # Browser-based clients read these documents from other origins.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@declare(METADATA)
class AuthorizationServerMetadataView(oauth2_views.OAuthServerMetadataView):
    """DOT's RFC 8414 metadata, with the device authorization endpoint."""

    def get(self, request, *args, **kwargs):
        return metadata_response(request, json.loads(super().get(request, *args, **kwargs).content))


@declare(METADATA)
class OpenIDConfigurationView(oauth2_views.ConnectDiscoveryInfoView):
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
        # (authentication_context.py, named by the adapter).
        document["acr_values_supported"] = list(levels())
        # RFC 8414 §2 metadata, which OIDC Discovery 1.0 §3 admits too: a client configured
        # from this document alone can also revoke (RFC 7009) and introspect (RFC 7662).
        auth_methods = oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED
        endpoints = {"revocation_endpoint": "revoke-token", "introspection_endpoint": "introspect"}
        for endpoint, view_name in endpoints.items():
            document[endpoint] = endpoint_url(request, view_name)
            document[f"{endpoint}_auth_methods_supported"] = auth_methods
        return metadata_response(request, document)


@declare(METADATA)
class ProtectedResourceMetadataView(oauth2_views.OAuthProtectedResourceMetadataView):
    """DOT's RFC 9728 metadata of a resource this server knows (OAUTH_RESOURCES), at
    /.well-known/oauth-protected-resource and under it."""
