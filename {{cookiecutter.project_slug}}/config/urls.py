"""
URL configuration.

The discovery documents live at the site root, where OIDC Discovery 1.0 §4 and
RFC 8414 §3 put them, so the issuer is the bare origin; every other OAuth endpoint
lives under /o/.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls
from oauth2_provider import views as oauth2_views

from {{ cookiecutter.project_slug }} import views
from {{ cookiecutter.project_slug }}.oauth import conformance
from {{ cookiecutter.project_slug }}.oauth import views as oauth_views

DEVICE_PAGES = ("device", "device-confirm", "device-grant-status")

oauth2_endpoints = [
    path("authorize/", conformance.AuthorizationView.as_view(), name="authorize"),
    path("token/", conformance.TokenView.as_view(), name="token"),
    path("revoke_token/", conformance.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", conformance.IntrospectTokenView.as_view(), name="introspect"),
    path("userinfo/", oauth2_views.UserInfoView.as_view(), name="user-info"),
    path("logout/", conformance.LogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", oauth2_views.JwksInfoView.as_view(), name="jwks-info"),
    # The device authorization grant (RFC 8628): a device without a browser shows a
    # code, and its user enters and approves it on DOT's pages from another screen.
    path("device-authorization/", conformance.DeviceAuthorizationView.as_view(), name="device-authorization"),
    *(route for route in oauth2_urls.base_urlpatterns if route.name in DEVICE_PAGES),
]

oauth2_patterns = [
    # Ahead of DOT's own, which does not name the device authorization endpoint.
    path(
        ".well-known/oauth-authorization-server",
        conformance.AuthorizationServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    *oauth2_urls.metadata_urlpatterns,
    path(
        ".well-known/openid-configuration",
        conformance.OpenIDConfigurationView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/", include(oauth2_endpoints)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("demo/callback/", views.demo_callback, name="demo-callback"),
    path("", include((oauth2_patterns, "oauth2_provider"))),
    path("api/me/", oauth_views.MeView.as_view(), name="api-me"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

handler400 = views.bad_request
