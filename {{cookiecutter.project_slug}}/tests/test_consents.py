"""
Remembered consent and its withdrawal: the user's page of the clients they allowed, which revokes
a client's tokens for the user when consent is withdrawn. Code: authserver/consent.py,
authserver/endpoints/consents.py.
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from authserver.consent import UNVERIFIED_CLIENT_CONSENT
from authserver.models import Consent

from .support import (
    PASSWORD,
    AuthorizationRequest,
    api_me_status,
    assert_error_sent_to_the_client,
    authorize_with,
    query_of,
    token_request,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def remembering_client(demo_application):
    """The demo client, set to remember consent (the seeded one always asks)."""
    demo_application.always_ask_consent = False
    demo_application.save()
    return demo_application


@pytest.fixture
def allowed(client, authorize, exchange, remembering_client):
    """The user signed in and allowed the demo client; return its tokens."""
    request, code = authorize()
    return exchange(request, code).json()


def test_the_page_lists_the_clients_the_user_allowed(client, allowed, remembering_client):
    home = client.get("/")
    assert b'href="/accounts/consents/"' in home.content
    page = client.get("/accounts/consents/")
    assert page.status_code == 200
    assert escape(remembering_client.name) in page.content.decode()
    assert "See your email address" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")


def listed_scopes(page):
    """The scope descriptions a page lists, in its order."""
    scopes = re.search(r'<ul class="scopes">(.*?)</ul>', page.content.decode(), re.DOTALL).group(1)
    return re.findall(r"<li>(.*?)</li>", scopes)


def test_the_page_lists_the_scopes_as_the_consent_page_does(client, user, remembering_client):
    """The same words in the same order, the server's (OAUTH_SCOPES), whatever the client's."""
    request = AuthorizationRequest(remembering_client.client_id, scope="email profile openid")
    signed_in = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    consent = authorize_with(client, request)
    assert consent.status_code == 200
    offered = [escape(settings.OAUTH_SCOPES[name]) for name in ("openid", "profile", "email")]
    assert listed_scopes(consent) == offered
    assert client.post(request.url, {**request.params, "allow": "Authorize"}).status_code == 302
    assert listed_scopes(client.get("/accounts/consents/")) == offered


def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/accounts/consents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_withdrawing_consent_revokes_the_clients_tokens_and_asks_again(
    client, allowed, demo_client, remembering_client, user
):
    request = AuthorizationRequest(demo_client.client_id)
    assert query_of(authorize_with(client, request, prompt="none")["Location"])["code"]
    assert api_me_status(client, allowed["access_token"]) == 200
    response = client.post("/accounts/consents/", {"client_id": remembering_client.client_id})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/consents/"
    assert remembering_client.name not in client.get("/accounts/consents/").content.decode()
    assert api_me_status(client, allowed["access_token"]) == 401
    refresh = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=allowed["refresh_token"]
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert not get_access_token_model().objects.filter(user=user).exists()
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()
    # The code issued silently above cannot be redeemed either.
    assert not get_grant_model().objects.filter(user=user).exists()
    request = AuthorizationRequest(demo_client.client_id)
    assert_error_sent_to_the_client(
        authorize_with(client, request, prompt="none"), request, "consent_required"
    )


def test_withdrawal_needs_the_pages_csrf_token(allowed, user, remembering_client):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.post("/accounts/consents/", {"client_id": remembering_client.client_id}).status_code == 403
    assert remembering_client.consents.filter(user=user).exists()


@pytest.mark.parametrize("client_id", ["", "no-such-client", "demo\x00", "é" * 300])
def test_withdrawing_what_is_not_the_users_changes_nothing(
    client, allowed, remembering_client, user, client_id
):
    response = client.post("/accounts/consents/", {"client_id": client_id})
    assert response.status_code == 404
    assert remembering_client.consents.filter(user=user).exists()


def test_one_user_cannot_withdraw_anothers_consent(allowed, remembering_client, user, django_user_model):
    other = Client()
    other.force_login(django_user_model.objects.create_user(username="mallory", password="x" * 20))
    assert other.post("/accounts/consents/", {"client_id": remembering_client.client_id}).status_code == 404
    assert remembering_client.consents.filter(user=user).exists()


def test_admins_see_consents_and_set_a_client_to_always_ask(allowed, remembering_client, django_user_model):
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser(username="root", password="x" * 20))
    assert escape(remembering_client.name) in admin.get("/admin/oauth/consent/").content.decode()
    change_form = admin.get(f"/admin/oauth/application/{remembering_client.pk}/change/")
    assert b'name="always_ask_consent"' in change_form.content


SELF_REGISTERED_REDIRECT_URI = "https://app.example.net/callback"


@pytest.fixture
def self_registered(application_model):
    """A client that registered itself (RFC 7591), under a name of its choosing."""
    return application_model.objects.create(
        name="Acme",
        client_id="self-registered",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=SELF_REGISTERED_REDIRECT_URI,
        registration_source=application_model.RegistrationSource.DCR,
        allowed_scopes="read",
    )


def sign_in(client, user):
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})


def test_the_consent_page_shows_where_the_user_goes_and_which_clients_no_one_vouches_for(
    client, user, self_registered, remembering_client, application_model
):
    """RFC 6749 §10.2, RFC 7591 §5: the name is the client's own choice; the page also shows the
    redirect URI's host and, for a self-registered or metadata-document client, that this server does
    not vouch for it (and the document's host)."""
    sign_in(client, user)
    page = client.get(AuthorizationRequest("self-registered", "read", SELF_REGISTERED_REDIRECT_URI).url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Not verified by" in text
    assert 'you will be sent to <strong class="redirect-host">app.example.net</strong>' in text
    trusted = client.get(AuthorizationRequest(remembering_client.client_id, "read").url).content.decode()
    assert "Not verified by" not in trusted
    assert '<strong class="redirect-host">127.0.0.1</strong>' in trusted
    document_client = application_model.objects.create(
        name="Acme",
        client_id="https://clients.example.org/acme.json",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=SELF_REGISTERED_REDIRECT_URI,
        registration_source=application_model.RegistrationSource.CIMD,
    )
    by_document = client.get(
        AuthorizationRequest(document_client.client_id, "read", SELF_REGISTERED_REDIRECT_URI).url
    ).content.decode()
    assert "Not verified by" in by_document
    assert '<strong class="client-document-host">clients.example.org</strong>' in by_document


def test_consent_to_an_unverified_client_is_remembered_briefly(
    client, user, self_registered, remembering_client
):
    """A consent to a client no one vouches for counts for UNVERIFIED_CLIENT_CONSENT, then the user is
    asked again; a consent to an admin's client is remembered as before."""
    sign_in(client, user)
    request = AuthorizationRequest("self-registered", "read", SELF_REGISTERED_REDIRECT_URI)
    assert client.get(request.url).status_code == 200
    assert client.post(request.url, {**request.params, "allow": "Authorize"}).status_code == 302
    again = AuthorizationRequest("self-registered", "read", SELF_REGISTERED_REDIRECT_URI)
    assert "code" in query_of(client.get(again.url)["Location"])
    trusted = AuthorizationRequest(remembering_client.client_id, "read")
    client.post(trusted.url, {**trusted.params, "allow": "Authorize"})

    long_ago = timezone.now() - UNVERIFIED_CLIENT_CONSENT - timedelta(minutes=1)
    Consent.objects.update(granted_at=long_ago)
    later = AuthorizationRequest("self-registered", "read", SELF_REGISTERED_REDIRECT_URI)
    assert client.get(later.url).status_code == 200
    assert "code" in query_of(
        client.get(AuthorizationRequest(remembering_client.client_id, "read").url)["Location"]
    )
