"""
MCP clients and servers against a live bake made with mcp_ready=y, with the official MCP Python
SDK on both sides: an MCP server (MCPServer, streamable HTTP, one tool) that validates this
server's tokens by introspection as a registered resource server, audience included, and the
SDK's own OAuth client (OAuthClientProvider), which discovers the authorization server from the
MCP server's RFC 9728 metadata, registers itself (RFC 7591) and runs the authorization code flow
with PKCE and `resource` (RFC 8707); the browser step is done here, through the real pages.
Also the registration policy (RFC 7591 §3.2.2) and RFC 7592 management, from outside.
"""

import asyncio
import secrets
import subprocess
import sys
import textwrap
import time
import urllib.request
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from .conftest import (
    bake,
    free_port,
    live_resources,
    running_server,
    runserver_command,
    venv_manage,
)
from .live import checked, register_client, sign_in, submit

pytestmark = pytest.mark.xdist_group("mcp")

# Registrations the live server lets one address make per window: enough for this module's
# tests before the last one, which goes over it.
REGISTRATIONS_PER_IP = 8
CALLBACK = "http://127.0.0.1:53682/callback"

MCP_SERVER = textwrap.dedent(
    '''
    """An MCP server that accepts this authorization server's tokens, checked by introspection."""

    import os

    import httpx2
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    ISSUER, URL = os.environ["ISSUER"], os.environ["MCP_URL"]
    CREDENTIALS = (os.environ["RS_CLIENT_ID"], os.environ["RS_CLIENT_SECRET"])


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


    server = MCPServer(
        "whoami",
        token_verifier=IntrospectionVerifier(),
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

        return get_access_token().claims.get("username") or "nobody"


    server.run("streamable-http", host="127.0.0.1", port=int(os.environ["MCP_PORT"]), streamable_http_path="/mcp")
    '''
)


@pytest.fixture(scope="module")
def mcp_project(tmp_path_factory):
    """An mcp_ready=y bake (run_setup=n, the template's environment as its .venv), migrated, with the
    admin and the seeded clients."""
    path = bake(tmp_path_factory.mktemp("mcp"), mcp_ready="y")
    (path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for command in (("create_oidc_key",), ("migrate", "--noinput"), ("createsuperuser", "--noinput")):
        venv_manage(path, *command)
    venv_manage(path, "seed_oauth_clients")
    return path


@pytest.fixture(scope="module")
def mcp_env(mcp_project):
    lines = (mcp_project / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.fixture(scope="module")
def mcp_url():
    return f"http://127.0.0.1:{free_port()}/mcp"


@pytest.fixture(scope="module")
def issuer(mcp_project, mcp_url):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running_server(
        mcp_project,
        runserver_command(mcp_project, port),
        base_url,
        OAUTH_RESOURCES=live_resources(base_url, mcp_url),
        THROTTLE_REGISTRATIONS_PER_IP=str(REGISTRATIONS_PER_IP),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def mcp_server(mcp_project, issuer, mcp_url, tmp_path_factory):
    """The SDK's MCP server, registered here as the resource server of its URL."""
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
    script = tmp_path_factory.mktemp("mcp-server") / "server.py"
    script.write_text(MCP_SERVER)
    env = {
        "ISSUER": issuer,
        "MCP_URL": mcp_url,
        "MCP_PORT": str(urlsplit(mcp_url).port),
        "RS_CLIENT_ID": client_id,
        "RS_CLIENT_SECRET": secret,
        "PATH": "/usr/bin:/bin",
    }
    log = tmp_path_factory.mktemp("mcp-log") / "server.log"
    with open(log, "w+b") as output:
        server = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for_metadata(mcp_url, server, output)
            yield mcp_url
        finally:
            server.terminate()
            server.wait(timeout=10)


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


async def call_whoami(mcp_url, provider):
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
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
    result = asyncio.run(call_whoami(mcp_server, provider))
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


@pytest.fixture(scope="module")
def jwt_issuer(mcp_project):
    """The same bake, serving RFC 9068 JWT access tokens (OAUTH_ACCESS_TOKEN_FORMAT=jwt)."""
    port = free_port()
    command = runserver_command(mcp_project, port)
    with running_server(
        mcp_project, command, f"http://127.0.0.1:{port}", OAUTH_ACCESS_TOKEN_FORMAT="jwt"
    ) as url:
        yield url


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
