"""The fixtures every test may ask for by name; the helpers they share are in support.py."""

import secrets

import pytest
from django.core.cache import cache
from django.core.management import call_command
from oauth2_provider.models import get_application_model

from .support import (
    DEMO_REDIRECT_URI,
    PASSWORD,
    AuthorizationRequest,
    Credentials,
    query_of,
    register_client,
    sign_in_through_the_form,
)


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Every test signs in and fails from 127.0.0.1: each starts with no failures counted."""
    cache.clear()


@pytest.fixture
def client_env(monkeypatch):
    """The .env values the seed command reads, fresh for each test."""
    values = {
        "OAUTH_DEMO_CLIENT_ID": "demo-" + secrets.token_hex(8),
        "OAUTH_DEMO_CLIENT_SECRET": secrets.token_urlsafe(48),
        "OAUTH_DEMO_REDIRECT_URI": DEMO_REDIRECT_URI,
        "OAUTH_M2M_CLIENT_ID": "m2m-" + secrets.token_hex(8),
        "OAUTH_M2M_CLIENT_SECRET": secrets.token_urlsafe(48),
        # Empty: the seed's defaults, from the test settings' scopes whatever .env lists.
        "OAUTH_DEMO_ALLOWED_SCOPES": "",
        "OAUTH_M2M_ALLOWED_SCOPES": "",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def seeded(db, client_env):
    call_command("seed_oauth_clients", verbosity=0)
    return client_env


@pytest.fixture
def demo_client(seeded):
    return Credentials(seeded["OAUTH_DEMO_CLIENT_ID"], seeded["OAUTH_DEMO_CLIENT_SECRET"])


@pytest.fixture
def m2m_client(seeded):
    return Credentials(seeded["OAUTH_M2M_CLIENT_ID"], seeded["OAUTH_M2M_CLIENT_SECRET"])


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice",
        email="alice@example.com",
        password=PASSWORD,
        first_name="Alice",
        last_name="Liddell",
    )


@pytest.fixture
def authorize(client, user, demo_client):
    """Sign in through the login form, approve on the consent page, return (request, code)."""

    def run(scope="openid profile email read"):
        request = AuthorizationRequest(demo_client.client_id, scope=scope)
        login = client.post(
            "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url}
        )
        assert login.status_code == 302, login.content
        consent = client.get(login["Location"])
        assert consent.status_code == 200
        approved = client.post(request.url, {**request.params, "allow": "Authorize"})
        assert approved.status_code == 302
        answer = query_of(approved["Location"])
        assert answer["state"] == request.state
        return request, answer["code"]

    return run


@pytest.fixture
def exchange(client, demo_client):
    """Redeem an authorization code at the token endpoint."""

    def run(request, code, **overrides):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
            **overrides,
        }
        return client.post("/o/token/", data, HTTP_AUTHORIZATION=demo_client.basic_auth)

    return run


@pytest.fixture
def application_model():
    return get_application_model()


@pytest.fixture
def demo_application(application_model, demo_client):
    return application_model.objects.get(client_id=demo_client.client_id)


@pytest.fixture
def other_client(application_model, seeded):
    """A second authorization-code client with the demo client's redirect URI."""
    return register_client(
        application_model,
        "other-client-secret-" + "x" * 40,
        name="other app",
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=DEMO_REDIRECT_URI,
        algorithm=application_model.RS256_ALGORITHM,
    )


@pytest.fixture
def signed_in(client, user):
    sign_in_through_the_form(client, user)
    return user
