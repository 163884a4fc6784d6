"""Pages people see, and the health check."""

import pytest

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/.well-known/openid-configuration" in response.content


def test_login_page_serves_local_css_and_no_script(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/css/site.css" in page
    assert "<script" not in page
    assert 'for="id_username"' in page


def test_wrong_password_shows_an_error(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_login_then_logout(client, user):
    assert (
        client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    )
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


def test_demo_callback_shows_the_code_escaped(client):
    response = client.get("/demo/callback/", {"code": "<b>abc</b>", "state": "s"})
    assert response.status_code == 200
    assert b"&lt;b&gt;abc&lt;/b&gt;" in response.content


def test_demo_pages_are_off_unless_turned_on(client, settings):
    settings.DEMO_PAGES_ENABLED = False
    response = client.get("/demo/callback/", {"error": "x", "error_description": "Call +1 555 0100"})
    assert response.status_code == 404
    assert b"555 0100" not in response.content


def test_a_sign_in_lasts_a_working_day(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 8 * 60 * 60
    assert response.cookies["sessionid"]["samesite"] == "Lax"
