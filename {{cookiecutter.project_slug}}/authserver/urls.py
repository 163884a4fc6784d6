# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The engine's routes, which config/urls.py includes at the site root: the OAuth and OpenID
Connect endpoints (endpoints/urls.py), the account pages (allauth's, and the consents page), the
health probes and the demo client. Each view's policy is declared where the view is, or for
allauth's where they are routed here (view_policy.py).
"""

from allauth.mfa.totp import views as totp_views
from django.urls import include, path

from .accounts import EmailView
from .endpoints import consents, demo, probes
from .view_policy import ACCOUNT_PAGE, declared_include

# allauth's pages (docs/accounts.md): sign-in and out, sign-up, passwords, e-mail addresses,
# second factors (/accounts/2fa/), sessions (/accounts/sessions/). Its authenticator-app
# enrolment shows the QR code as a data: image, which the page's CSP allows there alone.
allauth_pages = declared_include(
    "allauth.urls", ACCOUNT_PAGE, per_view={totp_views.activate_totp: ACCOUNT_PAGE.but(data_images=True)}
)

accounts = [
    # The clients the user allowed, and withdrawing that consent.
    path("consents/", consents.ConsentsView.as_view(), name="consents"),
    # allauth's e-mail addresses page, where an unverified address never becomes primary (accounts.py).
    path("email/", EmailView.as_view(), name="account_email"),
    path("", allauth_pages),
]

urlpatterns = [
    path("", include("authserver.endpoints.urls")),
    path("accounts/", include(accounts)),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    # The built-in demo relying party (DEMO_PAGES_ENABLED: local settings only).
    path("demo/", demo.home, name="demo"),
    path("demo/start/", demo.start, name="demo-start"),
    path("demo/callback/", demo.callback, name="demo-callback"),
    path("demo/refresh/", demo.refresh, name="demo-refresh"),
    path("demo/revoke/", demo.revoke, name="demo-revoke"),
    path("demo/logout/", demo.logout, name="demo-logout"),
]
