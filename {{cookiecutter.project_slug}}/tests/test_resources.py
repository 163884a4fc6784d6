"""RFC 8707 resource indicators: only resources the server knows; tokens bound to them (RFC 9728 at /api/me/)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from .support import AuthorizationRequest, query_of, token_request

SAMPLE_RESOURCE = "http://testserver/api/me/"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_an_unknown_resource_is_invalid_target_at_the_authorization_endpoint(signed_in, client, demo_client):
    """RFC 8707 §2: before the user is asked, at the client's redirect URI."""
    request = AuthorizationRequest(demo_client.client_id)
    answer = client.get("/o/authorize/", {**request.params, "resource": "https://unknown.example.com/"})
    assert answer.status_code == 302
    assert query_of(answer["Location"])["error"] == "invalid_target"


@pytest.mark.parametrize(
    "resources",
    [["https://unknown.example.com/"], ["https://api.example.com/", "https://api.example.com.evil/"]],
)
def test_an_unknown_resource_is_invalid_target_at_the_token_endpoint(client, m2m_client, resources):
    answer = token_request(client, m2m_client, grant_type="client_credentials", resource=resources)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_target"


def test_a_known_resource_binds_the_token_and_is_its_audience(client, m2m_client, application_model):
    """RFC 8707 §2.2: the token is bound to the resource; introspection (RFC 7662) names it as `aud`."""
    serves = {"resource_uris": "https://api.example.com/"}
    application_model.objects.filter(client_id=m2m_client.client_id).update(**serves)
    tokens = token_request(
        client, m2m_client, grant_type="client_credentials", resource="https://api.example.com/"
    )
    assert tokens.status_code == 200, tokens.content
    answer = client.post(
        "/o/introspect/", {"token": tokens.json()["access_token"]}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    assert answer.json()["active"] is True
    assert answer.json()["aud"] in ("https://api.example.com/", ["https://api.example.com/"])


def default_resources(**environment):
    """OAUTH_RESOURCES as the settings read it from this environment (nothing from .env)."""
    probe = "from django.conf import settings; print(json.dumps(settings.OAUTH_RESOURCES))"
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_ENV_FILE": os.devnull,
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django, json; django.setup(); {probe}"],
        cwd=PROJECT_DIR,
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_sample_resource_is_the_one_known_by_default(client, m2m_client):
    """Unset or empty, OAUTH_RESOURCES is the sample /api/me/ on the issuer's origin; a token bound to it works there."""
    assert default_resources() == default_resources(OAUTH_RESOURCES="") == ["/api/me/"]
    with override_settings(OAUTH_RESOURCES=default_resources()):
        known_by_default(client, m2m_client)


def known_by_default(client, m2m_client):
    refused = token_request(
        client, m2m_client, grant_type="client_credentials", resource="https://api.example.com/"
    )
    assert refused.json()["error"] == "invalid_target"
    tokens = token_request(
        client, m2m_client, grant_type="client_credentials", scope="read", resource=SAMPLE_RESOURCE
    )
    assert tokens.status_code == 200, tokens.content
    me = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}")
    assert me.status_code == 200


def test_api_me_refuses_a_token_bound_to_another_resource(client, m2m_client):
    """RFC 8707 §2, RFC 9068 §4: a resource refuses a token meant for another (DOT's audience check)."""
    tokens = token_request(
        client, m2m_client, grant_type="client_credentials", scope="read", resource="https://api.example.com/"
    )
    answer = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer["WWW-Authenticate"]


def test_api_me_publishes_its_metadata_and_names_it_in_its_challenge(client, db):
    """RFC 9728 §3, §5.1: the challenge points at the resource's metadata, which names it exactly."""
    challenge = client.get("/api/me/")["WWW-Authenticate"]
    url = "http://testserver/.well-known/oauth-protected-resource/api/me/"
    assert f'resource_metadata="{url}"' in challenge
    document = client.get(url).json()
    assert document["resource"] == SAMPLE_RESOURCE
    assert document["authorization_servers"] == ["http://testserver"]
    assert document["scopes_supported"] == ["read"]
