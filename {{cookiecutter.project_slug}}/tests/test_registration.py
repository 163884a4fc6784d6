"""Dynamic client registration (RFC 7591) and its management (RFC 7592), open with MCP_READY."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from .support import PASSWORD, AuthorizationRequest, query_of

LOOPBACK_REDIRECT_URI = "http://127.0.0.1:53682/callback"
PUBLIC_CLIENT = {
    "client_name": "An MCP client",
    "redirect_uris": [LOOPBACK_REDIRECT_URI],
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "none",
    "scope": "openid read",
}


@pytest.fixture
def registration_open(db):
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "DCR_ENABLED": True}):
        yield


def register(client, address="127.0.0.1", **metadata):
    body = json.dumps({**PUBLIC_CLIENT, **metadata})
    return client.post("/o/register/", body, content_type="application/json", REMOTE_ADDR=address)


def manage(client, method, registration, token=None, **metadata):
    token = registration["registration_access_token"] if token is None else token
    url = f"/o/register/{registration['client_id']}/"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if method == "put":
        body = json.dumps({**PUBLIC_CLIENT, **metadata})
        return client.put(url, body, content_type="application/json", **headers)
    return getattr(client, method)(url, **headers)


def test_registration_follows_mcp_ready(client, db):
    """Closed unless the project was baked (or configured) with MCP_READY: 404, and not advertised."""
    assert settings.OAUTH2_PROVIDER["DCR_ENABLED"] is settings.MCP_READY
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "DCR_ENABLED": False}):
        assert register(client).status_code == 404
        for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
            document = client.get(path).json()
            assert "registration_endpoint" not in document
            assert "none" not in document["token_endpoint_auth_methods_supported"]


def test_open_registration_and_public_clients_are_advertised(client, db, registration_open):
    """RFC 8414 §2: the registration endpoint, and `none`, the method of the clients it registers."""
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        document = client.get(path).json()
        assert document["registration_endpoint"] == "http://testserver/o/register/"
        assert "none" in document["token_endpoint_auth_methods_supported"]
        assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]


def test_client_id_metadata_documents_follow_mcp_ready(client, db):
    """Client ID Metadata Documents (DOT's CIMD) are on with MCP_READY, fetched under the registration
    policy, and advertised (client_id_metadata_document_supported) only then."""
    assert settings.OAUTH2_PROVIDER["CIMD_ENABLED"] is settings.MCP_READY
    fetcher = settings.OAUTH2_PROVIDER["CIMD_METADATA_FETCHER"]
    assert fetcher == "authserver.endpoints.registration.ClientMetadataFetcher"
    for enabled in (True, False):
        with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": enabled}):
            for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
                assert client.get(path).json()["client_id_metadata_document_supported"] is enabled


def test_a_client_known_by_its_metadata_document_may_ask_what_a_registered_one_may(application_model, db):
    """DOT's CIMD resolver stores a name, redirect URIs and grant only: the scopes a registration may
    ask for, and RS256 so that openid gets an ID token (not a 500), are set when it is first stored;
    an admin's later change stays when the document is fetched again."""
    stored = application_model.objects.create(
        client_id="https://client.example.com/mcp-client.json",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/callback",
        registration_source=application_model.RegistrationSource.CIMD,
    )
    assert stored.algorithm == "RS256"
    assert stored.allowed_scope_set() == {"openid", "profile", "email", *settings.OAUTH_APP_SCOPES}
    stored.allowed_scopes = "read"
    stored.save()
    stored.refresh_from_db()
    assert stored.allowed_scopes == "read"
    manual = application_model.objects.create(
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/callback",
    )
    assert (manual.algorithm, manual.allowed_scopes) == ("", "")


def test_a_registered_public_client_signs_a_user_in_with_openid(
    client, user, application_model, registration_open
):
    """RFC 7591 §3.2.1: registered with the scopes it asked for and RS256, so an ID token is issued
    (DOT leaves the algorithm empty: a 500 at the token endpoint)."""
    answer = register(client)
    assert answer.status_code == 201, answer.content
    registration = answer.json()
    assert registration["token_endpoint_auth_method"] == "none"
    assert registration["scope"] == "openid read"
    assert "client_secret" not in registration
    stored = application_model.objects.get(client_id=registration["client_id"])
    assert stored.algorithm == "RS256"
    assert stored.allowed_scope_set() == {"openid", "read"}

    request = AuthorizationRequest(
        registration["client_id"], scope="openid read", redirect_uri=LOOPBACK_REDIRECT_URI
    )
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url})
    approved = client.post(request.url, {**request.params, "allow": "Authorize"})
    code = query_of(approved["Location"])["code"]
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": LOOPBACK_REDIRECT_URI,
            "code_verifier": request.code_verifier,
            "client_id": registration["client_id"],
        },
    )
    assert tokens.status_code == 200, tokens.content
    assert {"id_token", "access_token", "refresh_token"} <= set(tokens.json())


def test_a_client_that_asks_for_no_scope_gets_the_default_scopes(client, db, registration_open):
    answer = register(client, scope="")
    assert answer.status_code == 201
    assert answer.json()["scope"] == " ".join(settings.OAUTH_DEFAULT_SCOPES)


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["http://app.example.com/callback"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://localhost.example.com/callback"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example.com/callback#fragment"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"grant_types": ["authorization_code", "implicit"]}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"),
        ({"scope": "read admin"}, "invalid_client_metadata"),
        ({"scope": ["read"]}, "invalid_client_metadata"),
    ],
)
def test_registrations_outside_the_policy_are_refused(
    client, application_model, registration_open, metadata, error
):
    """RFC 7591 §3.2.2: the error names what is wrong; nothing is registered."""
    answer = register(client, **metadata)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert answer["Cache-Control"] == "no-store"
    assert not application_model.objects.filter(registration_source="dcr").exists()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://app.example.com/callback",
        "http://[::1]:8080/callback",
        # MCP Inspector's: RFC 8252 §8.3 does not recommend localhost, MCP clients use it.
        "http://localhost:6274/oauth/callback",
    ],
)
def test_https_and_loopback_redirect_uris_register(client, db, registration_open, redirect_uri):
    assert register(client, redirect_uris=[redirect_uri]).status_code == 201


def test_registrations_per_address_are_limited(client, application_model, registration_open):
    """Anyone may register: each address only so many times per throttling window (429, Retry-After)."""
    with override_settings(THROTTLE_REGISTRATIONS_PER_IP=2):
        assert [register(client).status_code for _ in range(2)] == [201, 201]
        refused = register(client)
        assert refused.status_code == 429
        assert refused.json()["error"] == "invalid_client_metadata"
        assert int(refused["Retry-After"]) > 0
        assert register(client, address="203.0.113.9").status_code == 201
    assert application_model.objects.filter(registration_source="dcr").count() == 3


def test_a_client_reads_and_changes_only_its_own_registration(client, application_model, registration_open):
    """RFC 7592 §2: the registration access token is good for its own client's registration only."""
    mine, theirs = register(client).json(), register(client).json()
    for method in ("get", "put", "delete"):
        answer = manage(client, method, theirs, token=mine["registration_access_token"])
        assert answer.status_code == 401, method
        assert answer.json()["error"] == "invalid_token"
    assert application_model.objects.filter(client_id=theirs["client_id"]).exists()
    read = manage(client, "get", mine)
    assert read.status_code == 200
    assert read.json()["scope"] == "openid read"


def test_an_update_meets_the_registration_policy(client, application_model, registration_open):
    registration = register(client).json()
    refused = manage(client, "put", registration, token_endpoint_auth_method="client_secret_basic")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_client_metadata"
    changed = manage(client, "put", registration, scope="read")
    assert changed.status_code == 200, changed.content
    stored = application_model.objects.get(client_id=registration["client_id"])
    assert (stored.client_type, stored.allowed_scopes, stored.algorithm) == ("public", "read", "")


def test_a_disabled_client_is_refused(client, user, application_model, registration_open):
    """An admin disables a client (Application.is_disabled): DOT's is_usable refuses it."""
    registration = register(client).json()
    application_model.objects.filter(client_id=registration["client_id"]).update(is_disabled=True)
    request = AuthorizationRequest(
        registration["client_id"], scope="read", redirect_uri=LOOPBACK_REDIRECT_URI
    )
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url})
    answer = client.get(request.url)
    assert answer.status_code == 400
    assert b"invalid_client" in answer.content or b"Invalid client" in answer.content


def test_cleanregistrations_removes_unused_registrations_only(
    client, application_model, registration_open, demo_application
):
    stale, fresh, used = (register(client).json()["client_id"] for _ in range(3))
    long_ago = timezone.now() - timedelta(days=settings.OAUTH_REGISTRATION_UNUSED_DAYS + 1)
    application_model.objects.filter(client_id__in=[stale, used]).update(created=long_ago)
    demo_application.__class__.objects.filter(pk=demo_application.pk).update(created=long_ago)
    get_access_token_model().objects.create(
        application=application_model.objects.get(client_id=used),
        token_checksum="0" * 64,
        scope="read",
        expires=timezone.now() + timedelta(minutes=5),
    )
    # Clients of metadata documents (CIMD): one whose cached document expired is removed by DOT's
    # clearcimdapplications, which cleanregistrations runs after its own.
    expired_document, fresh_document = (
        application_model.objects.create(
            client_id=f"https://client.example.com/{name}.json",
            client_type=application_model.CLIENT_PUBLIC,
            authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
            redirect_uris="http://127.0.0.1/callback",
            registration_source=application_model.RegistrationSource.CIMD,
            cimd_expires_at=timezone.now() + timedelta(hours=hours),
        ).client_id
        for name, hours in (("expired", -1), ("fresh", 1))
    )
    output = StringIO()
    call_command("cleanregistrations", stdout=output)
    remaining = set(application_model.objects.values_list("client_id", flat=True))
    assert stale not in remaining and expired_document not in remaining
    assert {fresh, used, demo_application.client_id, fresh_document} <= remaining
    assert "Removed 1 unused client registration(s)." in output.getvalue()
    assert "Deleted 1 expired CIMD application(s)" in output.getvalue()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"null",
        b'{"redirect_uris": "http://127.0.0.1/cb", "token_endpoint_auth_method": "none"}',
        b'{"redirect_uris": [1], "token_endpoint_auth_method": "none"}',
        b'{"redirect_uris": ["http://[::1"], "token_endpoint_auth_method": "none"}',
        b'{"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "grant_types": "x"}',
        b'{"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "client_name": 7}',
    ],
)
def test_malformed_registrations_are_refused_without_a_server_error(
    client, application_model, registration_open, body
):
    """RFC 7591 §3.2.2: bad input gets an error object, never a 5xx, and registers nothing."""
    answer = client.post("/o/register/", body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
    assert not application_model.objects.filter(registration_source="dcr").exists()
