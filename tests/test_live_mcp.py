"""
MCP clients and servers against a live bake made with mcp_ready=y, with the official MCP Python
SDK on both sides: an MCP server (MCPServer, streamable HTTP, one tool) that validates this
server's tokens by introspection as a registered resource server, audience included, and the
SDK's own OAuth client (OAuthClientProvider), which discovers the authorization server from the
MCP server's RFC 9728 metadata, registers itself (RFC 7591) or names its Client ID Metadata
Document (CIMD, an https URL served here over TLS on loopback), and runs the authorization code flow
with PKCE and `resource` (RFC 8707); the browser step is done here, through the real pages.
Also the registration policy (RFC 7591 §3.2.2), on registrations and metadata documents, and
RFC 7592 management, from outside.

The project's CIMD fetcher reaches public addresses only. The server here runs the local settings
plus a test-only module this file writes into its bake (`LOOPBACK_CIMD_SETTINGS`), whose fetcher
also lets through 127.0.0.1, the one address the documents are served on, written that way; the
project's own settings relax nothing.
"""

import asyncio
import contextlib
import json
import re
import secrets
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from .live import checked, loopback_certificate, register_client, sign_in, submit
from .support import (
    bake,
    free_port,
    live_resources,
    read_env_values,
    running_server,
    runserver_command,
    venv_manage,
)

pytestmark = pytest.mark.slow

# Registrations the live server lets one address make per window: enough for this module's
# tests before the last one, which goes over it.
REGISTRATIONS_PER_IP = 14
CALLBACK = "http://127.0.0.1:53682/callback"

MCP_SERVER = textwrap.dedent(
    '''
    """An MCP server that accepts this authorization server's tokens, checked by introspection or,
    for JWT access tokens, from the JWKS alone (VERIFIER): the two verifiers of the generated docs/mcp.md."""

    import os

    import httpx2
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    ISSUER, URL = os.environ["ISSUER"], os.environ["MCP_URL"]
    CREDENTIALS = (os.environ.get("RS_CLIENT_ID"), os.environ.get("RS_CLIENT_SECRET"))


    class IntrospectionVerifier:
        """RFC 7662 as a registered resource server; the token's `aud` is its RFC 8707 resource."""

        async def verify_token(self, token):
            async with httpx2.AsyncClient() as http:
                answer = await http.post(f"{ISSUER}/o/introspect/", data={"token": token}, auth=CREDENTIALS)
            claims = answer.json()
            if answer.status_code != 200 or not claims.get("active"):
                return None
            audiences = claims.get("aud") or []
            audiences = [audiences] if isinstance(audiences, str) else audiences
            return AccessToken(
                token=token,
                client_id=claims["client_id"],
                scopes=claims.get("scope", "").split(),
                expires_at=claims.get("exp"),
                resource=URL if URL in audiences else (audiences[0] if audiences else None),
                subject=claims.get("sub"),
                claims=claims,
            )


    class JWKSVerifier:
        """RFC 9068 §4: the signature from the JWKS, typ at+jwt, iss, exp, and aud naming this server."""

        def __init__(self):
            self.keys = KeySet.import_key_set(httpx2.get(f"{ISSUER}/o/.well-known/jwks.json").json())
            self.claims = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                aud={"essential": True, "value": URL},
                exp={"essential": True},
            )

        async def verify_token(self, token):
            try:
                verified = jwt.decode(token, self.keys, algorithms=["RS256"])
                self.claims.validate(verified.claims)
            except (JoseError, ValueError):
                return None
            if verified.header.get("typ") != "at+jwt":
                return None
            claims = verified.claims
            return AccessToken(
                token=token,
                client_id=claims["client_id"],
                scopes=claims["scope"].split(),
                expires_at=claims["exp"],
                resource=URL,
                subject=claims["sub"],
                claims=claims,
            )


    VERIFIERS = {"introspection": IntrospectionVerifier, "jwks": JWKSVerifier}
    server = MCPServer(
        "whoami",
        token_verifier=VERIFIERS[os.environ["VERIFIER"]](),
        auth=AuthSettings(
            issuer_url=ISSUER,
            resource_server_url=URL,
            required_scopes=["read"],
            validate_token_resource=True,
        ),
    )


    @server.tool()
    def whoami() -> str:
        """Say who the token speaks for."""
        from mcp.server.auth.middleware.auth_context import get_access_token

        claims = get_access_token().claims
        return claims.get("username") or claims["sub"]


    server.run("streamable-http", host="127.0.0.1", port=int(os.environ["MCP_PORT"]), streamable_http_path="/mcp")
    '''
)


# Test-only files written into the bake, never part of a project: settings that let the CIMD
# fetcher reach the documents this module serves on loopback. The project's fetcher (registration
# policy included) is used as it is; only its public-address check also passes 127.0.0.1.
LOOPBACK_CIMD_SETTINGS = """
from .local import *  # noqa: F403
from .local import OAUTH2_PROVIDER

OAUTH2_PROVIDER["CIMD_METADATA_FETCHER"] = "loopback_cimd.LoopbackClientMetadataFetcher"
"""
LOOPBACK_CIMD_FETCHER = """
from authserver.endpoints.registration import ClientMetadataFetcher


# The project's fetcher, named by the settings above, and 127.0.0.1 exactly: no other loopback form.
class LoopbackClientMetadataFetcher(ClientMetadataFetcher):
    def is_public(self, address):
        return super().is_public(address) or address == "127.0.0.1"
"""


@pytest.fixture(scope="module")
def mcp_project(tmp_path_factory):
    """An mcp_ready=y bake (run_setup=n, the template's environment as its .venv), migrated, with the
    admin and the seeded clients, and the test-only settings above."""
    path = bake(tmp_path_factory.mktemp("mcp"), mcp_ready="y")
    (path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for command in (("create_oidc_key",), ("migrate", "--noinput"), ("createsuperuser", "--noinput")):
        venv_manage(path, *command)
    venv_manage(path, "seed_oauth_clients")
    (path / "config/settings/loopback_cimd.py").write_text(LOOPBACK_CIMD_SETTINGS)
    (path / "loopback_cimd.py").write_text(LOOPBACK_CIMD_FETCHER)
    return path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, and its key: the metadata documents' server's."""
    certificate_file, key_file = loopback_certificate(tmp_path_factory.mktemp("cimd-tls"))
    return certificate_file, key_file


class MetadataDocuments(ThreadingHTTPServer):
    """Where clients publish their metadata documents: https on loopback, each GET recorded."""

    def __init__(self, certificate_file, key_file):
        super().__init__(("127.0.0.1", 0), DocumentHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate_file, key_file)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.documents, self.fetched = {}, []

    def url(self, path):
        return f"https://127.0.0.1:{self.server_address[1]}{path}"

    def publish(self, path, **document):
        """Serve a document at `path`, whose client_id is its URL unless it says another."""
        self.documents[path] = {"client_id": self.url(path), **document}
        return self.url(path)


class DocumentHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.fetched.append(self.path)
        document = self.server.documents.get(self.path)
        body = json.dumps(document).encode()
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def metadata_documents(certificate):
    server = MetadataDocuments(*certificate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def mcp_env(mcp_project):
    return read_env_values(mcp_project)


@pytest.fixture(scope="module")
def mcp_url():
    return f"http://127.0.0.1:{free_port()}/mcp"


@pytest.fixture(scope="module")
def issuer_log(tmp_path_factory):
    return tmp_path_factory.mktemp("issuer") / "server.log"


@pytest.fixture(scope="module")
def issuer(mcp_project, mcp_url, certificate, issuer_log):
    """runserver on the bake, under the test-only settings: it trusts the documents' certificate
    (SSL_CERT_FILE, which DOT's fetcher reads through Python's default TLS context)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running_server(
        mcp_project,
        runserver_command(mcp_project, port),
        base_url,
        issuer_log,
        OAUTH_RESOURCES=live_resources(base_url, mcp_url),
        THROTTLE_REGISTRATIONS_PER_IP=str(REGISTRATIONS_PER_IP),
        DJANGO_SETTINGS_MODULE="config.settings.loopback_cimd",
        SSL_CERT_FILE=str(certificate[0]),
    ) as url:
        yield url


@contextlib.contextmanager
def running_mcp_server(directory, **env):
    """The script above, as a process, until the block ends: yields its URL once it answers."""
    script, log = directory / "server.py", directory / "server.log"
    script.write_text(MCP_SERVER)
    env.update(MCP_PORT=str(urlsplit(env["MCP_URL"]).port), PATH="/usr/bin:/bin")
    with open(log, "w+b") as output:
        server = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for_metadata(env["MCP_URL"], server, output)
            yield env["MCP_URL"]
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def mcp_server(mcp_project, issuer, mcp_url, tmp_path_factory):
    """The SDK's MCP server checking tokens by introspection, registered here as the resource
    server of its URL."""
    secret = secrets.token_urlsafe(32)
    client_id = register_client(
        mcp_project,
        {},
        client_id="mcp-server-" + secrets.token_hex(4),
        client_secret=secret,
        client_type="confidential",
        authorization_grant_type="client-credentials",
        name="The MCP server",
        is_resource_server=True,
        resource_uris=mcp_url,
    )
    with running_mcp_server(
        tmp_path_factory.mktemp("mcp-server"),
        VERIFIER="introspection",
        ISSUER=issuer,
        MCP_URL=mcp_url,
        RS_CLIENT_ID=client_id,
        RS_CLIENT_SECRET=secret,
    ) as url:
        yield url


def wait_for_metadata(mcp_url, server, log, seconds=30):
    """The MCP server has no /healthz: its RFC 9728 metadata document answering says it is up."""
    origin, path = mcp_url.rsplit("/", 1)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{origin}/.well-known/oauth-protected-resource/{path}", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                log.seek(0)
                pytest.fail(f"the MCP server did not start:\n{log.read().decode(errors='replace')[-4000:]}")
            time.sleep(0.2)


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Browser:
    """The user's browser: signs in and allows on the real pages, and reads the redirect back."""

    def __init__(self, env_values):
        self.env_values = env_values
        self.authorization_url = None
        self.answer = None

    async def open(self, url):
        self.authorization_url = url
        self.answer = await asyncio.to_thread(self.sign_in_and_allow, url)

    def sign_in_and_allow(self, url):
        browser = checked()
        consent = sign_in(browser, browser.get(url), self.env_values)
        assert consent.status_code == 200, consent.text[:2000]
        redirect = submit(browser, consent, button=("allow", "Authorize"), allow_redirects=False)
        assert redirect.status_code == 302, redirect.text[:2000]
        location = redirect.headers["Location"]
        assert location.startswith(CALLBACK), location
        return dict(parse_qsl(urlsplit(location).query))

    async def callback(self):
        return AuthorizationCodeResult(
            code=self.answer["code"], state=self.answer["state"], iss=self.answer.get("iss")
        )


async def call_whoami(mcp_url, **client_options):
    """The MCP server's one tool, through an HTTP client with `client_options` (the SDK's OAuth
    provider as `auth`, or a bearer token in `headers`)."""
    async with (
        httpx2.AsyncClient(timeout=30, **client_options) as http,
        streamable_http_client(mcp_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await session.call_tool("whoami", {})


def test_an_mcp_client_registers_signs_in_and_calls_a_tool(mcp_project, issuer, mcp_server, mcp_env):
    """The SDK's OAuth client end to end: RFC 9728 discovery, RFC 7591 registration, the code flow
    with PKCE and the MCP server as `resource` (RFC 8707), and the tool call with the token."""
    storage, browser = MemoryStorage(), Browser(mcp_env)
    provider = OAuthClientProvider(
        server_url=mcp_server,
        client_metadata=OAuthClientMetadata(
            client_name="An MCP client",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope="read",
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    result = asyncio.run(call_whoami(mcp_server, auth=provider))
    assert not result.is_error, result
    # The tool ran for the user who signed in and allowed.
    assert result.content[0].text == mcp_env["DJANGO_SUPERUSER_USERNAME"]

    # The client registered itself as a public client, and asked for a token for the MCP server.
    assert storage.client_info.token_endpoint_auth_method == "none"
    asked = dict(parse_qsl(urlsplit(browser.authorization_url).query))
    assert asked["resource"] == mcp_server
    assert asked["code_challenge_method"] == "S256"

    # The token is bound to the MCP server: /api/me/ of the authorization server refuses it.
    me = checked().get(
        f"{issuer}/api/me/", headers={"Authorization": f"Bearer {storage.tokens.access_token}"}
    )
    assert me.status_code == 401
    assert 'error="invalid_token"' in me.headers["WWW-Authenticate"]

    # A public client's refresh token rotates; the old one is then refused.
    old = storage.tokens.refresh_token
    form = {"grant_type": "refresh_token", "refresh_token": old, "client_id": storage.client_info.client_id}
    refreshed = checked().post(f"{issuer}/o/token/", data=form)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != old
    assert checked().post(f"{issuer}/o/token/", data=form).json()["error"] == "invalid_grant"


MCP_CLIENT_METADATA = {
    "redirect_uris": [CALLBACK],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "read",
}


def test_an_mcp_client_known_by_its_metadata_document_signs_in_and_calls_a_tool(
    issuer, mcp_server, mcp_env, metadata_documents
):
    """Client ID Metadata Documents: the server advertises them, so the SDK's OAuth client registers
    nothing and sends the https URL of its document as client_id; the server fetches it (TLS,
    certificate checked) on the authorization request, and the flow runs as for any client."""
    metadata = checked().get(f"{issuer}/.well-known/oauth-authorization-server").json()
    assert metadata["client_id_metadata_document_supported"] is True
    client_id = metadata_documents.publish(
        "/clients/mcp-client.json", client_name="An MCP client by its document", **MCP_CLIENT_METADATA
    )
    storage, browser = MemoryStorage(), Browser(mcp_env)
    provider = OAuthClientProvider(
        server_url=mcp_server,
        client_metadata=OAuthClientMetadata(
            client_name="An MCP client by its document", **MCP_CLIENT_METADATA
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
        client_metadata_url=client_id,
    )
    result = asyncio.run(call_whoami(mcp_server, auth=provider))
    assert not result.is_error, result
    assert result.content[0].text == mcp_env["DJANGO_SUPERUSER_USERNAME"]

    assert storage.client_info.client_id == client_id
    asked = dict(parse_qsl(urlsplit(browser.authorization_url).query))
    assert (asked["client_id"], asked["resource"]) == (client_id, mcp_server)
    assert metadata_documents.fetched.count("/clients/mcp-client.json") == 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        # The document names another client than its URL (DOT's check).
        ("impostor", "document client_id does not match the client_id URL"),
        # Within DOT's rules, outside the registration policy: a plain-http redirect URI off loopback.
        ("off-policy", "outside the registration policy: Redirect URIs must be https"),
        # Not https: no document is fetched at all.
        ("plain-http", None),
    ],
)
def test_a_refused_metadata_document_leaves_its_client_unknown(
    issuer, issuer_log, mcp_env, metadata_documents, case, reason
):
    """A client_id whose document is refused is no client: the signed-in user is told (400, never
    redirected: RFC 6749 §4.1.2.1) and the token endpoint answers invalid_client (§5.2), no 5xx."""
    path = f"/clients/{case}.json"
    document = {"client_name": f"A {case} client", **MCP_CLIENT_METADATA}
    if case == "impostor":
        document["client_id"] = metadata_documents.url("/clients/mcp-client.json")
    if case == "off-policy":
        document["redirect_uris"] = ["http://app.example.com/callback"]
    client_id = metadata_documents.publish(path, **document)
    if case == "plain-http":
        client_id = client_id.replace("https://", "http://")
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": document["redirect_uris"][0],
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "scope": "read",
        "state": "s",
    }
    browser = checked()
    login = browser.get(f"{issuer}/o/authorize/?{urlencode(query)}")
    told = sign_in(browser, login, mcp_env)
    assert told.status_code == 400, told.text[:2000]
    assert "Location" not in told.headers
    token = checked().post(
        f"{issuer}/o/token/",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": "unknown",
            "redirect_uri": CALLBACK,
            "code_verifier": "a" * 43,
        },
    )
    assert (token.status_code, token.json()["error"]) == (401, "invalid_client")
    # Fetched over TLS and refused for what it says; the plain-http one never fetched.
    assert (path in metadata_documents.fetched) is (reason is not None)
    if reason is not None:
        assert f"CIMD resolution failed for '{client_id}'" in issuer_log.read_text()
        assert reason in issuer_log.read_text()


def authorization_query(client_id, redirect_uri=CALLBACK, scope="read"):
    return {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "scope": scope,
        "state": "s",
    }


def test_a_metadata_document_at_an_ipv4_compatible_address_is_never_fetched(
    issuer, issuer_log, mcp_env, metadata_documents
):
    """Every IPv6 form that embeds an IPv4 address is judged by that address: the documents' own
    server, as ::127.0.0.1 (IPv4-compatible) or ::ffff:127.0.0.1, is a non-public address."""
    port = metadata_documents.server_address[1]
    browser = checked()
    for host in ("::127.0.0.1", "::ffff:127.0.0.1"):
        client_id = f"https://[{host}]:{port}/clients/embedded.json"
        page = browser.get(f"{issuer}/o/authorize/?{urlencode(authorization_query(client_id))}")
        if "/accounts/login/" in page.url:
            page = sign_in(browser, page, mcp_env)
        assert page.status_code == 400, page.text[:2000]
        assert f"client_id host resolves to a non-public address ({host})" in issuer_log.read_text()
    assert "/clients/embedded.json" not in metadata_documents.fetched


def test_a_client_known_by_its_metadata_document_is_shown_unverified_with_the_scopes_it_asked_for(
    issuer, mcp_env, metadata_documents
):
    """The consent page shows that this server does not vouch for the client, the document's host and
    where the user will be sent; the client may have the scopes its document asks for, not more."""
    client_id = metadata_documents.publish(
        "/clients/read-only.json", client_name="A read-only client", **MCP_CLIENT_METADATA
    )
    browser = checked()
    consent = sign_in(
        browser, browser.get(f"{issuer}/o/authorize/?{urlencode(authorization_query(client_id))}"), mcp_env
    )
    assert consent.status_code == 200, consent.text[:2000]
    assert "Not verified by" in consent.text
    assert '<strong class="client-document-host">127.0.0.1</strong>' in consent.text
    assert '<strong class="redirect-host">127.0.0.1</strong>' in consent.text
    wider = browser.get(
        f"{issuer}/o/authorize/?{urlencode(authorization_query(client_id, scope='read write'))}",
        allow_redirects=False,
    )
    assert wider.status_code == 302
    assert query_of_location(wider)["error"] == "invalid_scope"


def query_of_location(response):
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def test_the_mcp_server_refuses_a_token_bound_to_another_resource(issuer, mcp_server, mcp_env):
    """RFC 8707 §2: a token for /api/me/ is no token at the MCP server (introspection tells it
    nothing about it, RFC 7662 §4), while it works at /api/me/."""
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])
    form = {"grant_type": "client_credentials", "scope": "read", "resource": f"{issuer}/api/me/"}
    token = checked().post(f"{issuer}/o/token/", data=form, auth=credentials).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    refused = checked().post(mcp_server, json=initialize, headers=bearer)
    assert refused.status_code == 401
    assert "resource_metadata=" in refused.headers["WWW-Authenticate"]
    assert checked().get(f"{issuer}/api/me/", headers=bearer).status_code == 200


def test_an_unknown_resource_is_invalid_target(issuer, mcp_env):
    """RFC 8707 §2: a resource the server does not know (OAUTH_RESOURCES) gets no token."""
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])
    form = {"grant_type": "client_credentials", "scope": "read", "resource": "https://unknown.example.com/"}
    answer = checked().post(f"{issuer}/o/token/", data=form, auth=credentials)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_target")


def test_a_resource_server_made_by_its_command_alone_learns_about_the_tokens_bound_to_it(
    mcp_project, issuer, mcp_env
):
    """docs/mcp.md's one step: `create_resource_server`, with its URL in no OAUTH_RESOURCES and no
    admin edit, makes the URL a resource clients get tokens for (RFC 8707 §2) and gives the resource
    server introspection credentials that see those tokens, and not a token bound to another
    resource (RFC 7662 §4)."""
    url = f"http://127.0.0.1:{free_port()}/orders-mcp"
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])

    def token_request(resource):
        form = {"grant_type": "client_credentials", "scope": "read", "resource": resource}
        return checked().post(f"{issuer}/o/token/", data=form, auth=credentials)

    assert token_request(url).json()["error"] == "invalid_target"
    # As on a server: the command reads the issuer the server is configured with.
    command = ("create_resource_server", "--name", "Orders MCP", "--url", url)
    out = venv_manage(mcp_project, *command, OAUTH_ISSUER=issuer).stdout
    printed = dict(re.findall(r"^([a-z_]+)=(\S+)$", out, re.M))
    assert (printed["issuer"], printed["resource"]) == (issuer, url)

    def introspect(token):
        answer = checked().post(
            printed["introspection_endpoint"],
            data={"token": token},
            auth=(printed["client_id"], printed["client_secret"]),
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    bound_to_it = token_request(url)
    assert bound_to_it.status_code == 200, bound_to_it.text
    answer = introspect(bound_to_it.json()["access_token"])
    assert (answer["active"], answer["aud"]) == (True, [url])
    bound_elsewhere = token_request(f"{issuer}/api/me/").json()["access_token"]
    assert introspect(bound_elsewhere) == {"active": False}


def register(issuer, **metadata):
    body = {
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "read",
        **metadata,
    }
    return checked().post(f"{issuer}/o/register/", json=body)


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["http://app.example.com/callback"]}, "invalid_redirect_uri"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"),
        ({"scope": "read admin"}, "invalid_client_metadata"),
    ],
)
def test_registrations_outside_the_policy_are_refused(issuer, metadata, error):
    """RFC 7591 §3.2.2: 400 with the error that names what is wrong."""
    answer = register(issuer, **metadata)
    assert (answer.status_code, answer.json()["error"]) == (400, error)


def test_a_registration_access_token_introspects_as_inactive(issuer, mcp_env):
    """RFC 7592 §1.3, RFC 7662 §2.2: the registration access token manages the registration, and is
    no token to any resource server."""
    token = register(issuer).json()["registration_access_token"]
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])
    answer = checked().post(f"{issuer}/o/introspect/", data={"token": token}, auth=credentials)
    assert (answer.status_code, answer.json()) == (200, {"active": False})


def test_a_self_registered_client_cannot_pass_for_a_trusted_one(issuer, mcp_env):
    """RFC 6749 §10.2, RFC 7591 §5: the name of an admin's client is refused, whatever its case and
    spacing; another name registers, and its consent page says no one here vouches for it and where
    the user will be sent."""
    demo_name = "My  authorization server DEMO web app "
    attacker = "https://attacker.example/cb"
    refused = register(issuer, client_name=demo_name, redirect_uris=[attacker])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client_metadata")
    client_id = register(issuer, client_name="Demo web app", redirect_uris=[attacker]).json()["client_id"]
    browser = checked()
    url = f"{issuer}/o/authorize/?{urlencode(authorization_query(client_id, redirect_uri=attacker))}"
    consent = sign_in(browser, browser.get(url), mcp_env)
    assert consent.status_code == 200, consent.text[:2000]
    assert "Not verified by" in consent.text
    assert '<strong class="redirect-host">attacker.example</strong>' in consent.text


def test_a_client_manages_only_its_own_registration(issuer):
    """RFC 7592 §2: one client's registration access token reads, changes, deletes nothing of another's."""
    mine, theirs = register(issuer).json(), register(issuer).json()
    stolen = {"Authorization": f"Bearer {mine['registration_access_token']}"}
    browser = checked()
    for method in ("get", "put", "delete"):
        answer = browser.request(method, theirs["registration_client_uri"], headers=stolen, json={})
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_token"), method
    own = {"Authorization": f"Bearer {theirs['registration_access_token']}"}
    read = browser.get(theirs["registration_client_uri"], headers=own)
    assert (read.status_code, read.json()["client_id"]) == (200, theirs["client_id"])
    assert browser.delete(theirs["registration_client_uri"], headers=own).status_code == 204


def test_registrations_over_the_limit_are_refused(issuer):
    """Anyone may register: each address only so many times per window (429 with Retry-After)."""
    answers = [register(issuer) for _ in range(REGISTRATIONS_PER_IP + 1)]
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.json()["error"] == "invalid_client_metadata"
    assert int(refused.headers["Retry-After"]) > 0
    assert all(answer.status_code in (201, 429) for answer in answers)


def test_metadata_document_clients_count_as_registrations(issuer, mcp_env, metadata_documents):
    """Each new metadata document URL counts as a registration of the address naming it: once over
    the limit (the test above), a new one is neither fetched nor a client."""
    browser = checked()
    for number in range(REGISTRATIONS_PER_IP + 1):
        path = f"/clients/many-{number}.json"
        client_id = metadata_documents.publish(path, client_name=f"Client {number}", **MCP_CLIENT_METADATA)
        page = browser.get(f"{issuer}/o/authorize/?{urlencode(authorization_query(client_id))}")
        if "/accounts/login/" in page.url:
            page = sign_in(browser, page, mcp_env)
        if page.status_code == 400:
            assert path not in metadata_documents.fetched
            return
        assert page.status_code == 200, page.text[:2000]
    pytest.fail("every metadata document became a client")


@pytest.fixture(scope="module")
def jwt_mcp_url():
    return f"http://127.0.0.1:{free_port()}/mcp"


@pytest.fixture(scope="module")
def jwt_issuer(mcp_project, jwt_mcp_url):
    """The same bake, serving RFC 9068 JWT access tokens (OAUTH_ACCESS_TOKEN_FORMAT=jwt)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running_server(
        mcp_project,
        runserver_command(mcp_project, port),
        base_url,
        OAUTH_ACCESS_TOKEN_FORMAT="jwt",
        OAUTH_RESOURCES=live_resources(base_url, jwt_mcp_url),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def jwt_mcp_server(jwt_issuer, jwt_mcp_url, tmp_path_factory):
    """The SDK's MCP server checking JWT access tokens from the JWKS alone: not registered here at all."""
    with running_mcp_server(
        tmp_path_factory.mktemp("jwt-mcp-server"), VERIFIER="jwks", ISSUER=jwt_issuer, MCP_URL=jwt_mcp_url
    ) as url:
        yield url


def test_an_mcp_server_checks_jwt_access_tokens_from_the_jwks_alone(jwt_issuer, jwt_mcp_server, mcp_env):
    """The JWKS verifier of docs/mcp.md in the SDK's MCP server: a JWT bound to it calls the tool; one bound
    to another resource is refused (RFC 8707 §2, its `aud`); and, as docs/mcp.md says, a revoked one
    still passes there until its `exp`: revocation reaches only resource servers that introspect."""
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])

    def token_for(resource):
        form = {"grant_type": "client_credentials", "scope": "read", "resource": resource}
        answer = checked().post(f"{jwt_issuer}/o/token/", data=form, auth=credentials)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    token = token_for(jwt_mcp_server)
    result = asyncio.run(call_whoami(jwt_mcp_server, headers={"Authorization": f"Bearer {token}"}))
    assert not result.is_error, result
    assert result.content[0].text == credentials[0]  # RFC 9068 §2.2: sub, the client itself

    other = token_for(f"{jwt_issuer}/api/me/")
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    refused = checked().post(
        jwt_mcp_server, json=initialize, headers={"Authorization": f"Bearer {other}", **accept}
    )
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    both = token_for(jwt_mcp_server)
    assert checked().post(f"{jwt_issuer}/o/revoke_token/", data={"token": both}, auth=credentials).ok
    assert not asyncio.run(call_whoami(jwt_mcp_server, headers={"Authorization": f"Bearer {both}"})).is_error


def test_jwt_access_tokens_verify_from_the_jwks_alone_and_are_introspected_and_revoked(jwt_issuer, mcp_env):
    """RFC 9068 §2, §4: joserfc verifies the token with the published JWKS only, typ at+jwt, the
    claims of §2.2; introspection (RFC 7662) and revocation (RFC 7009) work on it as on any token."""
    credentials = (mcp_env["OAUTH_M2M_CLIENT_ID"], mcp_env["OAUTH_M2M_CLIENT_SECRET"])
    form = {"grant_type": "client_credentials", "scope": "read"}
    token = checked().post(f"{jwt_issuer}/o/token/", data=form, auth=credentials).json()["access_token"]
    key_set = KeySet.import_key_set(checked().get(f"{jwt_issuer}/o/.well-known/jwks.json").json())
    verified = joserfc_jwt.decode(token, key_set, algorithms=["RS256"])
    assert verified.header["typ"] == "at+jwt"
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": jwt_issuer},
        aud={"essential": True, "value": jwt_issuer},
        sub={"essential": True, "value": credentials[0]},
        client_id={"essential": True, "value": credentials[0]},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        scope={"essential": True, "value": "read"},
    )
    registry.validate(verified.claims)

    bearer = {"Authorization": f"Bearer {token}"}
    assert checked().get(f"{jwt_issuer}/api/me/", headers=bearer).status_code == 200
    introspect = f"{jwt_issuer}/o/introspect/"
    assert checked().post(introspect, data={"token": token}, auth=credentials).json()["active"] is True
    assert checked().post(f"{jwt_issuer}/o/revoke_token/", data={"token": token}, auth=credentials).ok
    assert checked().post(introspect, data={"token": token}, auth=credentials).json() == {"active": False}
    assert checked().get(f"{jwt_issuer}/api/me/", headers=bearer).status_code == 401
