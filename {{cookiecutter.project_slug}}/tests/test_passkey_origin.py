"""
Passkeys where browsers allow them: a page that offers them on an origin where WebAuthn cannot
work (an IP address, or http on a host other than localhost) says why, and the local settings
send a browser on 127.0.0.1 to the localhost issuer.
"""

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.test import Client

from authserver.middleware.loopback import LoopbackAddressToIssuerMiddleware

from .support import PASSWORD

pytestmark = pytest.mark.django_db

LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "id.example.com", "10.1.2.3"]


@pytest.fixture
def hosts(settings):
    settings.ALLOWED_HOSTS = LOCAL_HOSTS


@pytest.fixture
def recently_signed_in(client, signed_in):
    """Signed in, with the password given again: allauth asks for it before adding a key."""
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    return signed_in


def notice(response):
    page = response.content.decode()
    return page[page.index('id="passkey-notice"') :] if 'id="passkey-notice"' in page else ""


def test_the_sign_in_page_on_127_0_0_1_links_the_same_page_on_localhost(client, hosts):
    response = client.get("/accounts/login/?next=/o/authorize/%3Fx%3D1", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    said = notice(response)
    assert "do not work on this address" in said
    assert 'href="http://localhost:8000/accounts/login/?next=/o/authorize/%3Fx%3D1"' in said


def test_the_second_factor_pages_on_an_ip_address_say_why(client, recently_signed_in, hosts):
    for path in ("/accounts/2fa/", "/accounts/2fa/webauthn/add/"):
        response = client.get(path, HTTP_HOST="[::1]:8000")
        assert "do not work on this address" in notice(response), path
        assert "http://localhost:8000" + path in notice(response), path
    # Another machine's address: no localhost link, which would be the wrong machine.
    said = notice(client.get("/accounts/2fa/", HTTP_HOST="10.1.2.3:8000"))
    assert "do not work on this address" in said and "localhost" not in said


def test_http_on_a_domain_name_says_https_is_needed(client, signed_in, hosts):
    assert "need https" in notice(client.get("/accounts/2fa/", HTTP_HOST="id.example.com"))


@pytest.mark.parametrize("host", ["localhost:8000", "app.localhost:8000"])
def test_localhost_shows_no_notice(client, recently_signed_in, hosts, host, settings):
    settings.ALLOWED_HOSTS = [*LOCAL_HOSTS, ".localhost"]
    for path in ("/accounts/2fa/", "/accounts/2fa/webauthn/add/"):
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 200 and notice(response) == "", path


def test_https_on_a_domain_name_shows_no_notice(client, signed_in, hosts):
    response = client.get("/accounts/2fa/", HTTP_HOST="id.example.com", secure=True)
    assert response.status_code == 200 and notice(response) == ""


def test_other_pages_show_no_notice(client, hosts):
    response = client.get("/", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200 and notice(response) == ""


@pytest.fixture
def loopback_redirect(settings, hosts):
    """The local settings' middleware, with OAUTH_ISSUER pinned to localhost."""
    settings.OAUTH_ISSUER = "http://localhost:8000"
    settings.MIDDLEWARE = [
        "authserver.middleware.loopback.LoopbackAddressToIssuerMiddleware",
        *settings.MIDDLEWARE,
    ]
    return Client()


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "[::1]:8000"])
def test_a_page_on_a_loopback_address_goes_to_the_same_page_on_the_issuer(loopback_redirect, host):
    response = loopback_redirect.get("/accounts/2fa/?next=/demo/", HTTP_HOST=host)
    assert response.status_code == 302
    assert response["Location"] == "http://localhost:8000/accounts/2fa/?next=/demo/"


def test_only_the_issuers_port_and_only_get_are_redirected(loopback_redirect):
    # Another server on another port is not this one; a POST would lose its body.
    assert loopback_redirect.get("/healthz", HTTP_HOST="127.0.0.1:8001").status_code == 200
    response = loopback_redirect.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_HOST="127.0.0.1:8000"
    )
    assert response.status_code == 401
    assert loopback_redirect.get("/healthz", HTTP_HOST="localhost:8000").status_code == 200


@pytest.mark.parametrize(
    "issuer", ["", "http://127.0.0.1:8000", "https://id.example.com", "https://localhost"]
)
def test_the_redirect_is_off_unless_the_issuer_is_http_localhost(settings, issuer):
    # Production pins an https issuer: the middleware steps aside there even if listed.
    settings.OAUTH_ISSUER = issuer
    with pytest.raises(MiddlewareNotUsed):
        LoopbackAddressToIssuerMiddleware(lambda request: None)
