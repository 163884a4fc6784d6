"""Token endpoint grants, rotation, revocation and introspection."""

import pytest
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

pytestmark = pytest.mark.django_db


def token_request(client, credentials, **data):
    return client.post("/o/token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


def test_client_credentials_with_basic_auth(client, m2m_client):
    # RFC 6749 §2.3.1 (servers must support HTTP Basic) and §4.4.
    response = token_request(client, m2m_client, grant_type="client_credentials", scope="read")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "read"
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"


def test_client_credentials_with_post_body(client, m2m_client):
    response = client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": m2m_client.client_id,
            "client_secret": m2m_client.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "read"  # the default scope


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_wrong_client_secret_is_invalid_client(client, m2m_client, secret):
    # RFC 6749 §5.2: failed client authentication is invalid_client, 401.
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": m2m_client.client_id, "client_secret": secret},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_secret_is_stored_with_the_cheap_hasher(application_model, m2m_client):
    stored = application_model.objects.get(client_id=m2m_client.client_id).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert m2m_client.client_secret not in stored


def test_tokens_are_stored_hashed(client, m2m_client):
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    stored = get_access_token_model().objects.get()
    # RFC 9700 §4: a database leak must not leak usable tokens.
    assert stored.token != token
    assert token not in stored.token_checksum


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:example:unknown"])
def test_unsupported_grants_are_refused(client, m2m_client, grant_type):
    # RFC 9700 §2.4 (no password grant) and RFC 6749 §5.2 (unsupported_grant_type).
    response = token_request(client, m2m_client, grant_type=grant_type, username="alice", password="x")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_refresh_rotates_the_refresh_token(authorize, exchange, client, demo_client):
    # RFC 9700 §4.14.2 and OAuth 2.1 §4.3: a new refresh token with every refresh.
    request, code = authorize()
    first = exchange(request, code).json()
    response = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]


def test_replayed_refresh_token_revokes_the_whole_family(authorize, exchange, client, demo_client):
    # RFC 9700 §4.14.2: reuse of a rotated refresh token invalidates the active one too.
    request, code = authorize()
    first = exchange(request, code).json()
    second = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    replay = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    after = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


def test_revoked_access_token_is_inactive(client, m2m_client):
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]

    def introspect():
        response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
        assert response.status_code == 200
        return response.json()

    assert introspect()["active"] is True
    assert introspect()["client_id"] == m2m_client.client_id
    revoked = client.post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
    assert revoked.status_code == 200
    assert introspect() == {"active": False}
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_introspection_requires_client_authentication(client, m2m_client):
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    response = client.post("/o/introspect/", {"token": token})
    assert response.status_code in (401, 403)
    assert "active" not in response.content.decode()
