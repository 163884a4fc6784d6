"""
The OAuth 2.1 and OpenID Connect endpoints, in the `oauth2_provider` namespace DOT reverses.

The discovery documents live at the site root, where OIDC Discovery 1.0 §4 and RFC 8414 §3 put
them, so the issuer is the bare origin; every other endpoint lives under /o/.
"""

from django.db import transaction
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls
from oauth2_provider import views as oauth2_views

from . import (
    authorization,
    device,
    discovery,
    introspection,
    logout,
    registration,
    revocation,
    token,
    userinfo,
)

app_name = "oauth2_provider"

# DOT's own page where the user of a device, once the code is allowed, sees it is (RFC 8628 §3.3).
DEVICE_PAGES = ("device-grant-status",)

# Views that only read run without the request's transaction (ATOMIC_REQUESTS): on SQLite that
# transaction takes the database's one write lock, so every request would wait for every other.
# Only views that never write belong here; the others stay atomic. See README, "Performance".
read_only = transaction.non_atomic_requests

endpoints = [
    path("authorize/", authorization.AuthorizationView.as_view(), name="authorize"),
    path("token/", token.TokenView.as_view(), name="token"),
    path("revoke_token/", revocation.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", read_only(introspection.IntrospectTokenView.as_view()), name="introspect"),
    path("userinfo/", read_only(userinfo.UserInfoView.as_view()), name="user-info"),
    path("logout/", logout.LogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", read_only(oauth2_views.JwksInfoView.as_view()), name="jwks-info"),
    path("device-authorization/", device.DeviceAuthorizationView.as_view(), name="device-authorization"),
    path("device/", device.DeviceUserCodeView.as_view(), name="device"),
    path(
        "device-confirm/<slug:client_id>/<slug:user_code>",
        device.DeviceConfirmView.as_view(),
        name="device-confirm",
    ),
    *(route for route in oauth2_urls.base_urlpatterns if route.name in DEVICE_PAGES),
    # RFC 7591 registration and RFC 7592 management: 404 unless MCP_READY (registration.py).
    path("register/", registration.DynamicClientRegistrationView.as_view(), name="dcr-register"),
    path(
        "register/<str:client_id>/",
        registration.DynamicClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

urlpatterns = [
    # Ahead of DOT's own, which does not name the device authorization endpoint.
    path(
        ".well-known/oauth-authorization-server",
        discovery.AuthorizationServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    # RFC 9728 protected resource metadata.
    *oauth2_urls.metadata_urlpatterns,
    path(
        ".well-known/openid-configuration",
        discovery.OpenIDConfigurationView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/", include(endpoints)),
]
