"""
The introspection endpoint: RFC 7662. Code: authserver/endpoints/introspection.py.
"""

import pytest

from .support import (
    Credentials,
    register_client,
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


def introspect(client, credentials, token):
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=credentials.basic_auth)


def resource_server(application_model, name, resource_uris=""):
    """A confidential client that an admin marked as a resource server."""
    return register_client(
        application_model,
        f"{name}-secret-" + "x" * 40,
        name=name,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        is_resource_server=True,
        resource_uris=resource_uris,
    )


def test_only_resource_servers_may_introspect(client, m2m_client, demo_client, authorize, exchange):
    """RFC 7662 §2.1: the endpoint requires authorization; a client that is no resource server has none."""
    request, code = authorize()
    token = exchange(request, code).json()["access_token"]
    refused = introspect(client, demo_client, token)
    assert refused.status_code == 403
    assert refused.json()["error"] == "unauthorized_client"
    assert "active" not in refused.json()
    # The seeded machine-to-machine client is the example resource server.
    answer = introspect(client, m2m_client, token).json()
    assert (answer["active"], answer["client_id"], answer["username"]) == (
        True,
        demo_client.client_id,
        "alice",
    )


def test_public_clients_may_not_introspect(client, application_model, m2m_client):
    """RFC 7662 §2.1: a public client holds no credentials to authenticate with."""
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    application_model.objects.create(
        client_id="tv-app",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_DEVICE_CODE,
        client_secret="",
        is_resource_server=True,
    )
    device_grant = "urn:ietf:params:oauth:grant-type:device_code"
    as_device = client.post(
        "/o/introspect/", {"token": token, "client_id": "tv-app", "grant_type": device_grant}
    )
    blank_secret = introspect(client, Credentials("tv-app", ""), token)
    for response in (as_device, blank_secret):
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}


def test_a_resource_server_learns_only_about_tokens_meant_for_it(client, application_model, m2m_client):
    """RFC 7662 §4 with RFC 8707: a token with audiences is told only to a resource server among them."""
    api = resource_server(application_model, "api", "https://api.example.com/")
    other = resource_server(
        application_model, "other", "https://other.example.com/ https://more.example.com/"
    )
    for_api = token_request(
        client, m2m_client, grant_type="client_credentials", resource="https://api.example.com/"
    ).json()["access_token"]
    answer = introspect(client, api, for_api).json()
    assert (answer["active"], answer["aud"]) == (True, ["https://api.example.com/"])
    assert introspect(client, other, for_api).json() == {"active": False}
    # A token meant for no resource in particular is valid at every resource server.
    for_any = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    assert introspect(client, api, for_any).json()["active"] is True
    assert introspect(client, other, for_any).json()["active"] is True


def test_introspection_responses_are_never_cached(client, m2m_client, demo_client):
    """RFC 7662 §4: an answer tells what a token may do; no cache keeps it."""
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    active = introspect(client, m2m_client, token)
    assert active.json()["active"] is True
    for response in (
        active,
        introspect(client, m2m_client, "no-such-token"),
        introspect(client, demo_client, token),
    ):
        assert response["Cache-Control"] == "no-store"
