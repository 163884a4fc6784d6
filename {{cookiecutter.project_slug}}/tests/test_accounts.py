"""The account pages' own rules, beyond allauth's defaults (authserver/accounts.py)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from .support import PASSWORD, AuthenticatorApp
from .test_claims import sign_in_and_get_claims

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


# --- E-mail addresses: the `email` claim is the user's own (OIDC Core §5.7).

ADMIN_EMAIL = "you@example.com"


@pytest.fixture
def admin(django_user_model, monkeypatch):
    """The setup's admin: createsuperuser, then `manage.py verify_email` (its address verified)."""
    admin = django_user_model.objects.create_superuser("admin", ADMIN_EMAIL, PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    call_command("verify_email", verbosity=0)
    return admin


def email_page(client, action, email):
    return client.post(reverse("account_email"), {action: "", "email": email})


def test_an_account_cannot_take_the_admins_address_into_its_claims(
    client, user, admin, demo_client, exchange
):
    # The review's steps: an invited user (no verified address) adds the admin's address on the
    # e-mail page and makes it primary. The address is refused, in any letters; their claims stay
    # theirs, and email_verified is what allauth's records say for each.
    client.force_login(user)
    for typed in (ADMIN_EMAIL, ADMIN_EMAIL.upper()):
        added = email_page(client, "action_add", typed)
        assert added.status_code == 200 and added.context["form"].errors["email"], typed
    email_page(client, "action_primary", ADMIN_EMAIL)
    assert not EmailAddress.objects.filter(user=user, email__iexact=ADMIN_EMAIL).exists()
    client.logout()
    for claims in sign_in_and_get_claims(client, user, demo_client, exchange):
        assert (claims["email"], claims["email_verified"]) == (user.email, False)
    client.logout()
    for claims in sign_in_and_get_claims(client, admin, demo_client, exchange):
        assert (claims["email"], claims["email_verified"]) == (ADMIN_EMAIL, True)


def test_the_address_another_account_was_given_cannot_be_added(client, user, django_user_model):
    # An invited user's address, unverified until they follow a link: adding it elsewhere would
    # let a verification link its owner follows by mistake hand it to the other account.
    django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)
    client.force_login(user)
    added = email_page(client, "action_add", "bob@example.com")
    assert added.status_code == 200 and added.context["form"].errors["email"]
    assert email_page(client, "action_add", "alice.new@example.com").status_code == 302
    assert EmailAddress.objects.filter(user=user, email="alice.new@example.com", verified=False).exists()


def test_an_unverified_address_never_becomes_the_email_claim(client, user):
    # allauth lets an unverified address become primary while the user has no verified one, and
    # gives a removed primary address's place to another, verified or not.
    client.force_login(user)
    assert email_page(client, "action_add", "alice.new@example.com").status_code == 302
    assert email_page(client, "action_primary", "alice.new@example.com").status_code == 302
    user.refresh_from_db()
    assert user.email == "alice@example.com"
    assert not EmailAddress.objects.get(user=user, email="alice.new@example.com").primary
    email_page(client, "action_remove", "alice@example.com")
    user.refresh_from_db()
    assert user.email == "alice@example.com"
    assert EmailAddress.objects.filter(user=user, email="alice@example.com").exists()

    # Once proved, the new address may become primary, and the old one go.
    EmailAddress.objects.filter(user=user, email="alice.new@example.com").update(verified=True)
    email_page(client, "action_primary", "alice.new@example.com")
    email_page(client, "action_remove", "alice@example.com")
    user.refresh_from_db()
    assert user.email == "alice.new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == [user.email]


def test_verify_email_records_the_admins_address_as_allauth_looks_it_up(
    client, django_user_model, monkeypatch
):
    # createsuperuser keeps the address's local part as typed; allauth keeps and looks addresses
    # up lowercased, so an address recorded as typed is missed by password resets and by the
    # check that no other account adds or verifies it.
    admin = django_user_model.objects.create_superuser("admin", "The.Admin@Example.com", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    call_command("verify_email", verbosity=0)
    admin.refresh_from_db()
    assert admin.email == "the.admin@example.com"
    [address] = EmailAddress.objects.filter(user=admin)
    assert (address.email, address.verified, address.primary) == ("the.admin@example.com", True, True)
    call_command("verify_email", verbosity=0)
    assert EmailAddress.objects.filter(user=admin).count() == 1

    client.post(reverse("account_reset_password"), {"email": "the.admin@example.com"})
    [message] = mail.outbox
    assert message.to == ["the.admin@example.com"] and "/accounts/password/reset/key/" in message.body


def test_verify_email_refuses_an_address_another_account_verified(django_user_model, admin):
    # One verified owner per address (allauth's constraint), whatever its letters.
    other = django_user_model.objects.create_user("other", ADMIN_EMAIL.upper(), PASSWORD)
    with pytest.raises(CommandError, match="verified address of another account"):
        call_command("verify_email", other.username, verbosity=0)
    assert not EmailAddress.objects.filter(user=other, verified=True).exists()


# --- E-mailed links: on the configured origin, never the Host header's.

ISSUER = "https://auth.example.com"
# A host ALLOWED_HOSTS accepts, with a port it does not look at.
FORGED_HOST = "127.0.0.1:1"


def test_emailed_links_are_on_the_issuers_origin_whatever_the_host_header(client, user, settings):
    # The Host header is the client's to write: a reset asked with another port's Host must not
    # mail a link to that port. Reset (a known and an unknown address) and verification mails.
    settings.OAUTH_ISSUER = ISSUER
    reset = reverse("account_reset_password")
    for address in (user.email, "nobody@example.com"):
        assert client.post(reset, {"email": address}, HTTP_HOST=FORGED_HOST).status_code == 302
    client.force_login(user)
    added = client.post(
        reverse("account_email"), {"action_add": "", "email": "alice.new@example.com"}, HTTP_HOST=FORGED_HOST
    )
    assert added.status_code == 302
    assert [message.to for message in mail.outbox] == [
        [user.email],
        ["nobody@example.com"],
        ["alice.new@example.com"],
    ]
    for message in mail.outbox:
        assert FORGED_HOST not in message.body, message.body
        links = re.findall(r"https?://\S+", message.body)
        assert links and all(link.startswith(ISSUER + "/accounts/") for link in links), message.body
