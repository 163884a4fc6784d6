# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The OAuth 2.1 and OpenID Connect endpoints, in the `oauth2_provider` namespace DOT reverses.

The discovery documents live at the site root, where OIDC Discovery 1.0 §4, RFC 8414 §3 and
RFC 9728 §3.1 put them, so the issuer is the bare origin; every other endpoint lives under /o/.
Each view declares its own policy (view_policy.py).
"""

from django.urls import include, path

from . import (
    authorization,
    device,
    discovery,
    introspection,
    jwks,
    logout,
    registration,
    revocation,
    token,
    userinfo,
)

app_name = "oauth2_provider"

endpoints = [
    path("authorize/", authorization.AuthorizationView.as_view(), name="authorize"),
    path("token/", token.TokenView.as_view(), name="token"),
    path("revoke_token/", revocation.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", introspection.IntrospectTokenView.as_view(), name="introspect"),
    path("userinfo/", userinfo.UserInfoView.as_view(), name="user-info"),
    path("logout/", logout.LogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", jwks.JwksView.as_view(), name="jwks-info"),
    path("device-authorization/", device.DeviceAuthorizationView.as_view(), name="device-authorization"),
    path("device/", device.DeviceUserCodeView.as_view(), name="device"),
    path(
        "device-confirm/<slug:client_id>/<slug:user_code>",
        device.DeviceConfirmView.as_view(),
        name="device-confirm",
    ),
    path(
        "device-grant-status/<slug:client_id>/<slug:user_code>",
        device.DeviceGrantStatusView.as_view(),
        name="device-grant-status",
    ),
    # RFC 7591 registration and RFC 7592 management: 404 unless MCP_READY (registration.py).
    path("register/", registration.DynamicClientRegistrationView.as_view(), name="dcr-register"),
    path(
        "register/<str:client_id>/",
        registration.DynamicClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        discovery.AuthorizationServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path(
        ".well-known/openid-configuration",
        discovery.OpenIDConfigurationView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    # RFC 9728 §3.1: the metadata of a resource at https://host/path is at
    # /.well-known/oauth-protected-resource/path; of https://host/ at the bare name.
    path(
        ".well-known/oauth-protected-resource",
        discovery.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    path(
        ".well-known/oauth-protected-resource/<path:resource_path>",
        discovery.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata-path",
    ),
    path("o/", include(endpoints)),
]
