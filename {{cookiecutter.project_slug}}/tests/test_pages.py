"""Pages people see, and the health check."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from .support import PASSWORD

pytestmark = pytest.mark.django_db


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/.well-known/openid-configuration" in response.content


def test_home_page_lists_every_endpoint_the_discovery_documents_publish(client):
    page = client.get("/")
    listed = {row["key"]: row["url"] for row in page.context["endpoints"]}
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        document = client.get(path).json()
        for key, url in document.items():
            if key.endswith("_endpoint") or key == "jwks_uri":
                assert listed[key] == url, key
    assert all(row["spec"] and row["purpose"] for row in page.context["endpoints"])
    assert page.context["issuer"] == client.get("/.well-known/openid-configuration").json()["issuer"]


def test_home_page_shows_the_scopes_and_a_title(client, settings):
    page = client.get("/").content.decode()
    for name, description in settings.OAUTH_SCOPES.items():
        assert f"<code>{name}</code>" in page and description in page
    assert "<title>" in page and 'rel="icon"' in page and page.count("<h1") == 1


def test_home_page_offers_the_demo_consents_and_admin_to_signed_in_users(client, admin_user, user):
    assert b"/admin/" not in client.get("/").content
    client.force_login(user)
    page = client.get("/").content.decode()
    assert 'href="/demo/"' in page and 'href="/accounts/consents/"' in page and "/admin/" not in page
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_login_page_serves_local_css_and_scripts_only_as_static_files(client):
    """The sign-in page: the site's CSS, a login field taking a username or an e-mail address, and
    the passkey button's scripts, allauth's static files; inline, only JSON data they read."""
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/css/site.css" in page
    assert 'for="id_login"' in page and 'name="password"' in page
    assert 'id="passkey_login"' in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts, "no passkey script"
    for attributes in scripts:
        assert 'src="/static/' in attributes or 'type="application/json"' in attributes, attributes


def test_the_login_page_offers_sign_up_only_when_it_is_open(client, settings):
    page = client.get("/accounts/login/").content.decode()
    assert "Username or email address" in page
    assert reverse("account_signup") not in page
    settings.ACCOUNT_ALLOW_SIGNUPS = True
    assert reverse("account_signup") in client.get("/accounts/login/").content.decode()


def test_a_password_reset_says_the_same_whether_or_not_the_address_has_an_account(client, user):
    """OWASP Forgot Password Cheat Sheet: the answer does not tell who has an account; only the
    account's own address gets a reset link."""
    known = client.post(reverse("account_reset_password"), {"email": user.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    done = (302, reverse("account_reset_password_done"))
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == done
    links = {message.to[0]: "/accounts/password/reset/key/" in message.body for message in mail.outbox}
    assert links == {user.email: True, "nobody@example.com": False}


def test_wrong_password_shows_an_error(client, user):
    response = client.post("/accounts/login/", {"login": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_login_then_logout(client, user):
    assert client.post("/accounts/login/", {"login": user.username, "password": PASSWORD}).status_code == 302
    assert client.get("/").context["user"].is_authenticated
    assert client.post("/accounts/logout/").status_code == 302
    assert not client.get("/").context["user"].is_authenticated


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_admin_lists_the_oauth_models(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for model in ("applications", "access tokens", "refresh tokens", "id tokens", "grants", "users"):
        assert model in page.lower()


def test_pages_cannot_be_framed(client):
    assert client.get("/accounts/login/")["X-Frame-Options"] == "DENY"


def test_a_sign_in_lasts_a_working_day(client, user):
    response = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 8 * 60 * 60
    assert response.cookies["sessionid"]["samesite"] == "Lax"
