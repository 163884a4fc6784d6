"""
The site's URLs. Each part of the project keeps its own routes in its urls.py.

A request passes the middleware ({package}/middleware/) first, then reaches one of these.
"""

from importlib import import_module

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

PACKAGE = settings.PROJECT_PACKAGE
api_urls = import_module(f"{PACKAGE}.api.urls")

# The admin signs in on the site's own sign-in page (allauth's), with its rate limits and
# second factors, not on a password form of its own.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    # Home, health and readiness probes, the demo client's callback.
    path("", include(f"{PACKAGE}.pages.urls")),
    # The sample resource's RFC 9728 metadata, ahead of DOT's catch-all for such documents.
    path("", include(api_urls.metadata_urlpatterns)),
    # Discovery documents at the root, every other OAuth and OpenID Connect endpoint under /o/.
    path("", include(f"{PACKAGE}.oauth.urls")),
    # The sample protected resource.
    path("api/", include(f"{PACKAGE}.api.urls")),
    # Sign in and out, passwords, e-mail, second factors, sessions, consents (README, "Accounts").
    path("accounts/", include(f"{PACKAGE}.users.urls")),
    path("admin/", admin.site.urls),
    # Your own apps' URLs here.
]

handler400 = f"{PACKAGE}.pages.views.bad_request"
# 503, not 500, while the database is unreachable: README, "When things fail".
handler500 = f"{PACKAGE}.middleware.outages.server_error"
