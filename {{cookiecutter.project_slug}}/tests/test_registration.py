"""Dynamic client registration (RFC 7591) and its management (RFC 7592), open with MCP_READY."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from oauth2_provider import cimd
from oauth2_provider.cimd import CIMDError
from oauth2_provider.models import get_access_token_model
from oauthlib.common import Request

from authserver.endpoints.registration import ClientMetadataFetcher, is_public_address

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


class DocumentFetcher(ClientMetadataFetcher):
    """The project's fetcher (registration policy, scopes) with the network left out: the
    documents a test publishes in DOCUMENTS, each fetch recorded."""

    documents, fetched = {}, []

    def fetch_document(self, client_id):
        self.fetched.append(client_id)
        return {"client_id": client_id, **self.documents[client_id]}, 3600


@pytest.fixture
def documents(db):
    """CIMD on, with DocumentFetcher: {client_id: document}."""
    DocumentFetcher.documents.clear()
    DocumentFetcher.fetched.clear()
    fetcher = f"{__name__}.DocumentFetcher"
    overrides = {"CIMD_ENABLED": True, "CIMD_METADATA_FETCHER": fetcher}
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, **overrides}):
        yield DocumentFetcher.documents


def resolve(client_id, address="203.0.113.5"):
    """DOT's resolver, as the authorization endpoint runs it for a client_id it does not know."""
    return cimd.resolve_cimd_application(client_id, Request(client_id, headers={"REMOTE_ADDR": address}))


DOCUMENT = {
    "client_name": "A client by its document",
    "redirect_uris": [LOOPBACK_REDIRECT_URI],
    "grant_types": ["authorization_code", "refresh_token"],
}


def test_a_client_known_by_its_metadata_document_gets_the_scopes_it_asks_for(documents, application_model):
    """DOT's CIMD resolver stores a name, redirect URIs and grant only: the scopes the document asks
    for (within the registration policy; none: the default scopes), and RS256 so that openid gets an
    ID token (not a 500), are set when it is first stored; an admin's later change stays when the
    document is fetched again."""
    asking, silent = "https://client.example.com/asking.json", "https://client.example.com/silent.json"
    documents[asking] = {**DOCUMENT, "scope": "openid read"}
    documents[silent] = DOCUMENT
    stored = resolve(asking)
    assert (stored.allowed_scope_set(), stored.algorithm) == ({"openid", "read"}, "RS256")
    assert resolve(silent).allowed_scope_set() == set(settings.OAUTH2_PROVIDER["DEFAULT_SCOPES"])
    documents[asking] = {**DOCUMENT, "scope": "openid read write"}
    stored.allowed_scopes = "read"
    stored.cimd_expires_at = timezone.now() - timedelta(seconds=1)
    stored.save()
    refreshed = cimd.refresh_if_stale(stored, Request(asking, headers={"REMOTE_ADDR": "203.0.113.5"}))
    assert DocumentFetcher.fetched.count(asking) == 2
    refreshed.refresh_from_db()
    assert refreshed.allowed_scopes == "read"
    manual = application_model.objects.create(
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/callback",
    )
    assert (manual.algorithm, manual.allowed_scopes) == ("", "")


def test_clients_known_by_their_metadata_documents_count_as_registrations(documents, application_model):
    """Each metadata document URL an address is first to name is a registration of that address
    (THROTTLE_REGISTRATIONS_PER_IP), counted before the fetch: over the limit, the client stays
    unknown and nothing is fetched. Known clients count nothing; other addresses have their own."""
    urls = [f"https://client.example.com/{number}.json" for number in range(4)]
    for url in urls:
        documents[url] = DOCUMENT
    with override_settings(THROTTLE_REGISTRATIONS_PER_IP=2):
        assert [resolve(url) is not None for url in urls[:3]] == [True, True, False]
        assert urls[2] not in DocumentFetcher.fetched
        assert resolve(urls[3], address="198.51.100.7") is not None
    assert application_model.objects.filter(registration_source="cimd").count() == 3


def test_the_name_of_an_admins_client_is_refused(client, seeded, registration_open, documents):
    """RFC 7591 §5: a self-registered client may not take the name the consent page shows for a client
    an admin added, whatever its case and spacing: refused at registration, and in a document."""
    demo_name = f"{settings.PROJECT_NAME} demo web app"
    for name in (demo_name, f"  {demo_name.upper()} ", demo_name.replace(" ", "  ")):
        refused = register(client, client_name=name)
        assert refused.status_code == 400, name
        assert refused.json()["error"] == "invalid_client_metadata"
        assert "client_name" in refused.json()["error_description"]
    assert register(client, client_name=f"Not the {demo_name}").status_code == 201
    impostor = "https://client.example.com/impostor.json"
    documents[impostor] = {**DOCUMENT, "client_name": demo_name.title()}
    assert resolve(impostor) is None


def test_a_registration_access_token_is_no_token_for_resources(client, m2m_client, registration_open):
    """RFC 7592 §1.3, RFC 7662 §2.2: a registration access token introspects as inactive to every
    resource server; it expires (OAUTH_REGISTRATION_UNUSED_DAYS) and an update replaces it."""
    registration = register(client).json()
    token = registration["registration_access_token"]
    answer = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
    assert (answer.status_code, answer.json()) == (200, {"active": False})
    stored = get_access_token_model().objects.get(application__client_id=registration["client_id"])
    lifetime = timedelta(days=settings.OAUTH_REGISTRATION_UNUSED_DAYS)
    assert timezone.now() + lifetime - timedelta(minutes=1) < stored.expires <= timezone.now() + lifetime
    updated = manage(client, "put", registration)
    assert updated.json()["registration_access_token"] != token
    assert manage(client, "get", registration).status_code == 401


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::",
        "::127.0.0.1",  # IPv4-compatible (::/96)
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:10.0.0.1",  # IPv4-translated
        "64:ff9b::7f00:1",  # NAT64, well-known prefix
        "64:ff9b:1::a00:1",  # NAT64, local use
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "2606:4700:4700::5efe:a00:1",  # ISATAP of 10.0.0.1
        "fe80::1",
        "fc00::1",
        "not an address",
    ],
)
def test_metadata_documents_are_fetched_from_public_addresses_only(address):
    """Every IPv6 form that embeds an IPv4 address is judged by that address too."""
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_may_serve_metadata_documents(address):
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["[::127.0.0.1]", "[::ffff:127.0.0.1]", "[::ffff:0:127.0.0.1]", "127.0.0.1"])
def test_a_document_at_an_internal_address_is_never_fetched(host, db):
    """The project's fetcher judges the very addresses it would connect to: no connection is made."""
    with pytest.raises(CIMDError, match="non-public address"):
        ClientMetadataFetcher().fetch(f"https://{host}:8443/client.json")


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
