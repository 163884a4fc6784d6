"""
Staff need a second factor for the admin where ADMIN_REQUIRES_MULTI_FACTOR says so (production's
default): enrolment asked on the first visit, a password-only session stepped up. Signed in on
allauth's pages. Code: authserver/admin_access.py, config/urls.py.
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from .support import PASSWORD, AuthenticatorApp, sign_in_through_the_form

pytestmark = pytest.mark.django_db

MFA_REAUTHENTICATE = "/accounts/2fa/reauthenticate/"


@pytest.fixture
def staff(django_user_model, settings):
    settings.ADMIN_REQUIRES_MULTI_FACTOR = True
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD)


def test_staff_without_a_second_factor_are_asked_to_enrol_one(client, staff):
    sign_in_through_the_form(client, staff)
    for path in ("/admin/", "/admin/oauth/application/"):
        page = client.get(path)
        assert page.status_code == 403
        assert page.context["enrol_url"] == "/accounts/2fa/"
        assert page.context["continue_url"] == path
        assert "Set up a second factor first" in page.content.decode()
    # The enrolment page itself is open to them.
    assert client.get("/accounts/2fa/").status_code == 200


def test_a_password_only_staff_session_is_stepped_up(client, staff):
    sign_in_through_the_form(client, staff)
    app = AuthenticatorApp(generate_totp_secret())
    TOTP.activate(staff, app.secret)
    asked = client.get("/admin/oauth/application/")
    assert asked.status_code == 302
    assert asked["Location"] == f"{MFA_REAUTHENTICATE}?next=%2Fadmin%2Foauth%2Fapplication%2F"
    back = client.post(asked["Location"], {"code": app.code()})
    assert back.status_code == 302 and back["Location"] == "/admin/oauth/application/"
    assert client.get(back["Location"]).status_code == 200


def test_a_multi_factor_sign_in_opens_the_admin(client, staff):
    app = AuthenticatorApp(generate_totp_secret())
    TOTP.activate(staff, app.secret)
    signed_in = client.post(
        "/accounts/login/", {"login": staff.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert signed_in["Location"] == "/accounts/2fa/authenticate/"
    assert client.post(signed_in["Location"], {"code": app.code()})["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_setting_off_lets_a_password_session_in(client, staff, settings):
    settings.ADMIN_REQUIRES_MULTI_FACTOR = False
    sign_in_through_the_form(client, staff)
    assert client.get("/admin/").status_code == 200


def test_a_session_with_no_record_of_its_sign_in_signs_in_again(client, staff):
    """A session signed in by login() alone (no allauth record): the whole sign-in, which asks for the factor."""
    TOTP.activate(staff, generate_totp_secret())
    client.force_login(staff)
    answer = client.get("/admin/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/admin/"
    assert not client.get("/").context["user"].is_authenticated


def test_others_are_the_admins_to_refuse(client, django_user_model, settings):
    settings.ADMIN_REQUIRES_MULTI_FACTOR = True
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    user = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    sign_in_through_the_form(client, user)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
