from django.contrib.auth import views as auth_views
from django.urls import path

from ..oauth import consent
from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The clients the user allowed, and withdrawing that consent (oauth/consent.py).
    path("consents/", consent.ConsentsView.as_view(), name="consents"),
]
