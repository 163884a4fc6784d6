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
from {{ cookiecutter.project_slug }}.oauth import views as oauth_views
from {{ cookiecutter.project_slug }}.oauth.conformance import OpenIDConfigurationView

oauth2_endpoints = [
    path("authorize/", oauth2_views.AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth2_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"),
    path("userinfo/", oauth2_views.UserInfoView.as_view(), name="user-info"),
    path("logout/", oauth2_views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", oauth2_views.JwksInfoView.as_view(), name="jwks-info"),
]

oauth2_patterns = [
    *oauth2_urls.metadata_urlpatterns,
    path(
        ".well-known/openid-configuration",
        OpenIDConfigurationView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/", include(oauth2_endpoints)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("demo/callback/", views.demo_callback, name="demo-callback"),
    path("", include((oauth2_patterns, "oauth2_provider"))),
    path("api/me/", oauth_views.MeView.as_view(), name="api-me"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
