"""
The revocation endpoint: RFC 7009. Code: authserver/endpoints/revocation.py.
"""

import pytest

from .support import (
    api_me_status,
    revoke,
    token_request,
)

pytestmark = pytest.mark.django_db


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


def test_revoking_an_unknown_token_is_200(client, demo_client):
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    assert revoke(client, demo_client, token="no-such-token").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(authorize, exchange, client, m2m_client):
    """RFC 7009 §2.1: only the client a token was issued to may revoke it."""
    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert revoke(client, m2m_client, token=access_token).status_code == 200
    assert api_me_status(client, access_token) == 200


def test_revoking_a_refresh_token_revokes_its_access_token(authorize, exchange, client, demo_client):
    """RFC 7009 §2.1: revoking a refresh token invalidates the access tokens of the same grant."""
    request, code = authorize()
    tokens = exchange(request, code).json()
    assert (
        revoke(
            client, demo_client, token=tokens["refresh_token"], token_type_hint="refresh_token"
        ).status_code
        == 200
    )
    assert api_me_status(client, tokens["access_token"]) == 401


def test_a_wrong_token_type_hint_still_revokes(authorize, exchange, client, demo_client):
    """RFC 7009 §2.1: the server searches every token type when the hint is wrong."""
    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert revoke(client, demo_client, token=access_token, token_type_hint="refresh_token").status_code == 200
    assert api_me_status(client, access_token) == 401


def test_revocation_without_client_authentication_is_401(client, seeded):
    """RFC 7009 §2.1 with RFC 6749 §5.2: invalid_client, 401, a Basic challenge."""
    response = client.post("/o/revoke_token/", {"token": "anything"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
