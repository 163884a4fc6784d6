"""
The introspection endpoint: RFC 7662. Code: oauth/introspection.py.
"""

import pytest

from .conftest import (
    Credentials,
    token_request,
)

pytestmark = pytest.mark.django_db


def test_introspection_requires_client_authentication(client, m2m_client):
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    response = client.post("/o/introspect/", {"token": token})
    assert response.status_code in (401, 403)
    assert "active" not in response.content.decode()


def test_introspection_with_bad_client_credentials_is_401(client, m2m_client):
    """RFC 7662 §2.3: 401 as RFC 6749 §5.2 says (DOT answers a bare 403)."""
    for credentials in (Credentials(m2m_client.client_id, "wrong"), None):
        headers = {"HTTP_AUTHORIZATION": credentials.basic_auth} if credentials else {}
        response = client.post("/o/introspect/", {"token": "anything"}, **headers)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
        assert response["WWW-Authenticate"].startswith("Basic ")


def test_introspection_with_a_bearer_token_lacking_the_scope_is_403(client, m2m_client):
    """RFC 7662 §2.3 with RFC 6750 §3.1: insufficient_scope."""
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_introspecting_an_unknown_token_says_inactive(client, m2m_client):
    """RFC 7662 §2.2: only {"active": false} for a token the server does not know."""
    response = client.post(
        "/o/introspect/", {"token": "no-such-token"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspection_takes_post_only(client, m2m_client):
    """RFC 7662 §2.1: POST, so that tokens stay out of URLs and logs."""
    response = client.get("/o/introspect/", {"token": "anything"}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
    assert response.status_code == 405
