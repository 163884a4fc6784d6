"""The site's home page: what this server is, its endpoints and scopes, and the signed-in user's clients."""

import json

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from authserver.endpoints.discovery import AuthorizationServerMetadataView, OpenIDConfigurationView
from authserver.view_policy import PUBLIC_PAGE, declare

# What the home page says of each URL the metadata documents publish: (name, spec, purpose).
# A URL the documents publish and this table misses is still listed, under its metadata name.
ENDPOINTS = {
    "openid_configuration": (
        "OpenID Connect discovery",
        "OIDC Discovery 1.0 §4",
        "Everything below, for OpenID Connect clients to configure themselves from.",
    ),
    "oauth_authorization_server": (
        "Authorization server metadata",
        "RFC 8414 §3",
        "The same, for OAuth 2.0 clients.",
    ),
    "authorization_endpoint": (
        "Authorization",
        "OAuth 2.1 §4.1, OIDC Core §3.1.2",
        "Where the browser signs in and consents; answers with a code.",
    ),
    "token_endpoint": (
        "Token",
        "OAuth 2.1 §3.2",
        "Trades a code, refresh token or client credentials for tokens.",
    ),
    "userinfo_endpoint": ("UserInfo", "OIDC Core §5.3", "The signed-in user's claims, for an access token."),
    "jwks_uri": (
        "JSON Web Key Set",
        "RFC 7517, OIDC Core §10.1",
        "The public keys ID tokens are signed with.",
    ),
    "revocation_endpoint": ("Revocation", "RFC 7009", "A client revokes a token it holds."),
    "introspection_endpoint": (
        "Introspection",
        "RFC 7662",
        "A resource server asks whether a token is active.",
    ),
    "end_session_endpoint": ("Logout", "OIDC RP-Initiated Logout 1.0", "A client signs the user out here."),
    "device_authorization_endpoint": (
        "Device authorization",
        "RFC 8628 §3.1",
        "A device without a browser starts a sign-in the user finishes on /o/device/.",
    ),
    "registration_endpoint": (
        "Client registration",
        "RFC 7591, RFC 7592",
        "A client (an MCP client, say) registers itself, then reads or changes its registration.",
    ),
}


def metadata_documents(request):
    """Both discovery documents, from their own views: the home page can never disagree with them."""
    documents = {}
    for name, view in (
        ("openid_configuration", OpenIDConfigurationView),
        ("oauth_authorization_server", AuthorizationServerMetadataView),
    ):
        documents[name] = json.loads(view.as_view()(request).content)
    return documents


def endpoint_table(request, documents):
    urls = {
        "openid_configuration": request.build_absolute_uri("/.well-known/openid-configuration"),
        "oauth_authorization_server": request.build_absolute_uri("/.well-known/oauth-authorization-server"),
    }
    for document in documents.values():
        for key, value in document.items():
            if key.endswith("_endpoint") or key == "jwks_uri":
                urls.setdefault(key, value)
    rows = []
    for key, url in urls.items():
        name, spec, purpose = ENDPOINTS.get(key, (key, "", ""))
        rows.append({"key": key, "name": name, "url": url, "spec": spec, "purpose": purpose})
    return rows


@declare(PUBLIC_PAGE)
@require_GET
def home(request):
    documents = metadata_documents(request)
    context = {
        "issuer": documents["openid_configuration"]["issuer"],
        "endpoints": endpoint_table(request, documents),
        "scopes": settings.OAUTH_SCOPES,
        "demo_enabled": settings.DEMO_PAGES_ENABLED,
    }
    if request.user.is_authenticated:
        consents = request.user.consents.select_related("application").order_by("application__name")
        context["allowed_clients"] = [consent.application for consent in consents]
    return render(request, "home.html", context)
