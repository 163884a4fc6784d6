"""The account pages' own rules, beyond allauth's defaults (authserver/accounts.py)."""

import pytest
from django.urls import reverse

from .support import PASSWORD, AuthenticatorApp

pytestmark = pytest.mark.django_db


def sign_in_with_password(client, user):
    return client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})


def test_the_code_that_enrols_an_authenticator_app_cannot_sign_in_again(client, user):
    """RFC 6238 §5.2: a code is accepted once, the enrolment's too."""
    assert sign_in_with_password(client, user).status_code == 302
    # Second factors are managed only right after entering the password again.
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200, page.get("Location")
    # Time for the rest of the test within the code's step: its replay must meet a spent code,
    # not one whose step has ended.
    app = AuthenticatorApp(page.context["form"].secret)
    code = app.code(margin=5)
    activated = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert activated.status_code == 302, activated.context["form"].errors
    client.post(reverse("account_logout"))

    # Within the same 30 s: the password, then the enrolment's code at the second-factor step.
    assert sign_in_with_password(client, user).status_code == 302
    replayed = client.post(reverse("mfa_authenticate"), {"code": code})
    assert replayed.status_code == 200 and replayed.context["form"].errors
    assert app.step_now() == app.step, "the code's step ended before it was replayed"
    assert not client.get("/").context["user"].is_authenticated
