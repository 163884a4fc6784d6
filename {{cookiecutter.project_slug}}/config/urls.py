"""
The site's URLs: the engine's (authserver/urls.py: the OAuth and OpenID Connect endpoints,
accounts, probes, demo), the admin, and your own. A request passes the middleware
(authserver/middleware/) first, which reads the policy each view declares (authserver/view_policy.py).
"""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from authserver.admin_access import require_multi_factor
from authserver.view_policy import PRIVATE_PAGE, declared_include

# The admin signs in on the site's own sign-in page (allauth's), with its rate limits and
# second factors, not on a password form of its own.
admin.site.login = secure_admin_login(admin.site.login)
# And staff need a second factor there, where ADMIN_REQUIRES_MULTI_FACTOR says so (production).
require_multi_factor(admin.site)

urlpatterns = [
    # Home.
    path("", include("{{ cookiecutter.project_slug }}.pages.urls")),
    # The sample protected resource, /api/me/, and its RFC 9728 metadata (ahead of the engine's
    # document for other resources).
    path("", include("{{ cookiecutter.project_slug }}.api.urls")),
    # Discovery at the root, the endpoints under /o/, /accounts/, /healthz, /readyz, /demo/.
    path("", include("authserver.urls")),
    path("admin/", declared_include(admin.site.urls, PRIVATE_PAGE)),
    # Your own apps' URLs here; declare each view's policy (docs/layout.md).
]

# Error pages with a next step (authserver/errors.py); CSRF_FAILURE_VIEW in settings is the CSRF check's.
handler400 = "authserver.errors.bad_request"
handler403 = "authserver.errors.permission_denied"
handler404 = "authserver.errors.page_not_found"
# 503, not 500, while the database is unreachable: docs/operations.md.
handler500 = "authserver.middleware.outages.server_error"
