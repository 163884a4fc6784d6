from django.urls import include, path

from ..oauth import consent

urlpatterns = [
    # The clients the user allowed, and withdrawing that consent (oauth/consent.py).
    path("consents/", consent.ConsentsView.as_view(), name="consents"),
    # django-allauth: sign-in and out, sign-up, passwords, e-mail addresses, second factors
    # (/accounts/2fa/), sessions (/accounts/sessions/). README, "Accounts".
    path("", include("allauth.urls")),
]
