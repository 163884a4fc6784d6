"""The sample protected resource, GET /api/me/ (RFC 6750)."""

import pytest

from .support import client_credentials_token

pytestmark = pytest.mark.django_db


def test_without_a_token_it_challenges(client):
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_with_a_bad_token_it_says_invalid_token(client):
    response = client.get("/api/me/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_without_the_read_scope_it_is_forbidden(client, m2m_client):
    token = client_credentials_token(client, m2m_client, "write")
    response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


# RFC 9728 §5.1: the Bearer challenges name the protected-resource metadata document.
RESOURCE_METADATA = 'resource_metadata="http://testserver/.well-known/oauth-protected-resource/api/me/"'


def test_the_challenge_names_the_protected_resource_metadata(client):
    assert RESOURCE_METADATA in client.get("/api/me/")["WWW-Authenticate"]


def test_the_insufficient_scope_challenge_names_the_protected_resource_metadata(client, m2m_client):
    token = client_credentials_token(client, m2m_client, "write")
    response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert RESOURCE_METADATA in response["WWW-Authenticate"]


def test_client_credentials_token_speaks_for_the_client(client, m2m_client):
    token = client_credentials_token(client, m2m_client, "read write")
    response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"client_id": m2m_client.client_id, "scope": ["read", "write"]}


def test_user_token_speaks_for_the_user(client, authorize, exchange, user, demo_client):
    request, code = authorize(scope="openid read")
    token = exchange(request, code).json()["access_token"]
    client.logout()
    response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {
        "client_id": demo_client.client_id,
        "scope": ["openid", "read"],
        "user": {"sub": str(user.sub), "username": "alice"},
    }


def test_token_in_the_query_string_is_refused(client, m2m_client):
    # RFC 9700 §4.3.2, OAuth 2.1 §5.2: never in the URL; RFC 6750 §3.1: a malformed request.
    token = client_credentials_token(client, m2m_client, "read")
    response = client.get(f"/api/me/?access_token={token}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_request"')
    # Not even beside a token in the header.
    response = client.get(f"/api/me/?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
