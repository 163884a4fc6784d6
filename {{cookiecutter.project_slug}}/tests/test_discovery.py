"""Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

ISSUER = "http://testserver"


@pytest.fixture
def openid_configuration(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def server_metadata(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    return response.json()


def test_both_documents_name_one_issuer_at_the_site_root(openid_configuration, server_metadata):
    assert openid_configuration["issuer"] == server_metadata["issuer"] == ISSUER


def test_endpoints_live_under_o(openid_configuration, server_metadata):
    assert openid_configuration["authorization_endpoint"] == f"{ISSUER}/o/authorize/"
    assert openid_configuration["token_endpoint"] == f"{ISSUER}/o/token/"
    assert openid_configuration["userinfo_endpoint"] == f"{ISSUER}/o/userinfo/"
    assert openid_configuration["end_session_endpoint"] == f"{ISSUER}/o/logout/"
    for document in (openid_configuration, server_metadata):
        assert document["revocation_endpoint"] == f"{ISSUER}/o/revoke_token/"
        assert document["introspection_endpoint"] == f"{ISSUER}/o/introspect/"
    assert openid_configuration["jwks_uri"] == server_metadata["jwks_uri"]
    for document in (openid_configuration, server_metadata):
        assert document["device_authorization_endpoint"] == f"{ISSUER}/o/device-authorization/"


def test_only_secure_flows_are_advertised(openid_configuration, server_metadata):
    for document in (openid_configuration, server_metadata):
        assert document["response_types_supported"] == ["code"]
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert set(document["grant_types_supported"]) == {
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        }
        assert document["authorization_response_iss_parameter_supported"] is True
    assert openid_configuration["id_token_signing_alg_values_supported"] == ["RS256"]


def test_scopes_come_from_settings(openid_configuration, server_metadata):
    assert set(openid_configuration["scopes_supported"]) == set(settings.OAUTH_SCOPES)
    assert set(server_metadata["scopes_supported"]) == set(settings.OAUTH_SCOPES)


def test_standard_claims_are_advertised(openid_configuration):
    assert {"sub", "name", "preferred_username", "email", "email_verified"} <= set(
        openid_configuration["claims_supported"]
    )


def test_the_claims_parameter_is_advertised(openid_configuration):
    # OIDC Discovery 1.0 §3: absent means unsupported (OIDC Core §5.5, claims.py).
    assert openid_configuration["claims_parameter_supported"] is True
    assert {"given_name", "family_name", "updated_at"} <= set(openid_configuration["claims_supported"])


def test_jwks_publishes_the_rs256_signing_key(client, openid_configuration):
    keys = client.get(openid_configuration["jwks_uri"]).json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"]
    assert "d" not in key  # the private exponent never leaves the server


def test_both_documents_say_request_objects_are_not_supported(openid_configuration, server_metadata):
    """OIDC Discovery 1.0 §3: an absent request_uri_parameter_supported would mean true; the
    authorization endpoint refuses both (OIDC Core §6)."""
    for document in (openid_configuration, server_metadata):
        assert document["request_parameter_supported"] is False
        assert document["request_uri_parameter_supported"] is False
