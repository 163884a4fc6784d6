"""
Which scopes each client may have (RFC 6749 §3.3): its registration's allowed scopes, and never the
scopes that describe a user through client credentials. Code: authserver/validator.py, authserver/models.py.
"""

from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from oauth2_provider.models import get_access_token_model, get_device_grant_model, get_grant_model

from .support import (
    AuthorizationRequest,
    assert_error_sent_to_the_client,
    authorize_with,
    register_client,
    token_request,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(application_model, seeded):
    """A machine client registered with no allowed scopes of its own."""
    return register_client(
        application_model,
        "reader-secret-" + "x" * 40,
        name="reader",
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
    )


@pytest.mark.parametrize("scope", ["openid", "profile", "email", "read openid"])
def test_client_credentials_never_get_the_scopes_that_describe_a_user(client, m2m_client, scope):
    """RFC 6749 §4.4: no user takes part, so nothing about a user (OIDC Core §5.4) may be granted."""
    response = token_request(client, m2m_client, grant_type="client_credentials", scope=scope)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")
    assert not get_access_token_model().objects.exists()


def test_a_new_client_gets_only_the_default_scopes(client, reader):
    assert settings.OAUTH_DEFAULT_SCOPES == ["read"]
    granted = token_request(client, reader, grant_type="client_credentials")
    assert granted.json()["scope"] == "read"
    refused = token_request(client, reader, grant_type="client_credentials", scope="write")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_scope")


def test_a_client_gets_only_its_allowed_scopes_at_the_token_endpoint(client, application_model, reader):
    application_model.objects.filter(client_id=reader.client_id).update(allowed_scopes="write")
    granted = token_request(client, reader, grant_type="client_credentials", scope="write")
    assert granted.json()["scope"] == "write"
    refused = token_request(client, reader, grant_type="client_credentials", scope="read write")
    assert refused.json()["error"] == "invalid_scope"


def test_a_client_gets_only_its_allowed_scopes_at_the_authorization_endpoint(
    client, signed_in, demo_application, demo_client
):
    demo_application.allowed_scopes = "openid read"
    demo_application.save()
    request = AuthorizationRequest(demo_client.client_id, scope="openid profile")
    assert_error_sent_to_the_client(authorize_with(client, request), request, "invalid_scope")
    allowed = AuthorizationRequest(demo_client.client_id, scope="openid read")
    assert authorize_with(client, allowed).status_code == 200
    # The consent form's own scope field is checked too.
    answer = client.post(allowed.url, {**allowed.params, "scope": "openid profile", "allow": "Authorize"})
    assert_error_sent_to_the_client(answer, allowed, "invalid_scope")
    assert not get_grant_model().objects.exists()


def test_device_authorization_refuses_a_scope_the_client_may_not_have(client, application_model, seeded):
    application_model.objects.create(
        client_id="tv-app",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_DEVICE_CODE,
    )
    body = urlencode({"client_id": "tv-app", "scope": "read write"})
    response = client.post("/o/device-authorization/", body, content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")
    assert not get_device_grant_model().objects.exists()


def test_allowed_scopes_name_known_scopes_only(application_model):
    application = application_model(
        name="typo",
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        allowed_scopes="read admin",
    )
    with pytest.raises(ValidationError, match="Unknown scopes: admin"):
        application.full_clean()


def test_a_refused_scope_is_described_with_the_client_at_the_token_endpoint(client, reader):
    """RFC 6749 §5.2: error_description tells the developer which scope, for which client; no secret."""
    refused = token_request(client, reader, grant_type="client_credentials", scope="read write")
    body = refused.json()
    assert (refused.status_code, body["error"]) == (400, "invalid_scope")
    assert body["error_description"] == (
        f"Client reader ({reader.client_id}) may not be granted write: "
        "not in its allowed scopes (the admin's Allowed scopes)."
    )
    assert reader.client_secret not in refused.content.decode()


def test_a_scope_about_a_user_is_described_for_client_credentials(client, m2m_client):
    body = token_request(client, m2m_client, grant_type="client_credentials", scope="read openid").json()
    assert body["error_description"].endswith(
        "may not be granted openid: client credentials never get the scopes that describe a user."
    )
    assert m2m_client.client_id in body["error_description"]


def test_an_unknown_scope_is_described_as_unknown(client, reader):
    body = token_request(client, reader, grant_type="client_credentials", scope="read write admin").json()
    assert body["error_description"] == (
        f"Client reader ({reader.client_id}) may not be granted admin: not a scope of this server."
    )


def test_a_refused_scope_is_described_at_the_authorization_endpoint(
    client, signed_in, demo_application, demo_client
):
    """RFC 6749 §4.1.2.1: the same description reaches the client at its redirect URI."""
    demo_application.allowed_scopes = "openid read"
    demo_application.save()
    request = AuthorizationRequest(demo_client.client_id, scope="openid profile")
    assert_error_sent_to_the_client(
        authorize_with(client, request),
        request,
        "invalid_scope",
        f"Client {demo_application.name} ({demo_client.client_id}) may not be granted profile:",
    )


def test_a_refused_scope_is_described_at_the_device_authorization_endpoint(client, application_model, seeded):
    application_model.objects.create(
        client_id="tv-app",
        name='TV "living room" app',
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_DEVICE_CODE,
    )
    body = urlencode({"client_id": "tv-app", "scope": "read write"})
    response = client.post("/o/device-authorization/", body, content_type="application/x-www-form-urlencoded")
    # RFC 6749 §5.2: no " or \ in error_description, so the name's quotes are replaced.
    assert response.json() == {
        "error": "invalid_scope",
        "error_description": "Client TV ?living room? app (tv-app) may not be granted write: "
        "not in its allowed scopes (the admin's Allowed scopes).",
    }
