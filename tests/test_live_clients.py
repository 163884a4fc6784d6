"""
Third-party clients against a live baked server, on SQLite and on PostgreSQL.

Authlib plays the relying party and joserfc checks the JOSE; both are configured from the
discovery document alone. The user signs in and consents through the server's real HTML forms.
"""

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from .live import DEVICE_CODE_GRANT, checked, discover, query_of, register_client, sign_in, submit
from .oauth_helpers import DEFAULT_SCOPE, demo_client, verified_id_token_claims

pytestmark = pytest.mark.slow


@pytest.fixture
def metadata(any_live_server):
    return discover(any_live_server)


@pytest.fixture(scope="session")
def device_client_id(project, any_live_server, live_database_env):
    """A public client registered for the device grant, as an admin would add a TV app."""
    return register_client(
        project,
        live_database_env,
        client_id="live-test-tv",
        name="Live test TV",
        client_type="public",
        authorization_grant_type=DEVICE_CODE_GRANT,
    )


def sign_in_with_authorization_code(metadata, env_values):
    """Authorization code + PKCE (S256) with state and nonce: the user's browser signs in and allows."""
    client = demo_client(metadata, env_values)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    browser = checked()
    consent = sign_in(browser, browser.get(url), env_values)
    for description in ("Sign you in with your account", "See your email address", "Read your data"):
        assert description in consent.text
    redirect = submit(browser, consent, button=("allow", "Authorize"), allow_redirects=False)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(env_values["OAUTH_DEMO_REDIRECT_URI"] + "?")
    assert query_of(location)["iss"] == metadata["issuer"]  # RFC 9207
    token = client.fetch_token(authorization_response=location, state=state, code_verifier=verifier)
    return browser, client, token, nonce


def api_me(session, issuer):
    return session.get(f"{issuer}/api/me/")


def test_both_discovery_documents_pass_authlib_validation(metadata, monkeypatch):
    # The live server runs over plain http on loopback; Authlib otherwise insists on https.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    OpenIDProviderMetadata(metadata).validate()
    issuer = metadata["issuer"]
    server_metadata = checked().get(f"{issuer}/.well-known/oauth-authorization-server").json()
    AuthorizationServerMetadata(server_metadata).validate()
    assert server_metadata["issuer"] == issuer
    for document in (metadata, server_metadata):
        assert DEVICE_CODE_GRANT in document["grant_types_supported"]
        assert document["device_authorization_endpoint"] == f"{issuer}/o/device-authorization/"


def test_authorization_code_with_pkce_and_a_verified_id_token(metadata, env_values):
    _, client, token, nonce = sign_in_with_authorization_code(metadata, env_values)
    claims = verified_id_token_claims(metadata, env_values["OAUTH_DEMO_CLIENT_ID"], token, nonce)
    assert claims["exp"] > claims["iat"]

    userinfo = client.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["preferred_username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
    assert userinfo["email"] == env_values["DJANGO_SUPERUSER_EMAIL"]
    assert api_me(client, metadata["issuer"]).json()["user"]["sub"] == claims["sub"]


def test_refresh_rotates_and_a_replay_kills_the_whole_family(metadata, env_values):
    _, client, token, _ = sign_in_with_authorization_code(metadata, env_values)
    first = token["refresh_token"]
    rotated = client.refresh_token(refresh_token=first)
    assert rotated["refresh_token"] != first
    assert api_me(client, metadata["issuer"]).status_code == 200

    # RFC 9700 §4.14.2: the replayed token fails, and so does the newest of its family.
    for refresh_token in (first, rotated["refresh_token"]):
        with pytest.raises(OAuthError) as refused:
            client.refresh_token(refresh_token=refresh_token)
        assert refused.value.error == "invalid_grant"
    assert api_me(client, metadata["issuer"]).status_code == 401


def test_revoked_tokens_introspect_as_inactive(metadata, env_values):
    _, client, token, _ = sign_in_with_authorization_code(metadata, env_values)
    introspect, revoke = metadata["introspection_endpoint"], metadata["revocation_endpoint"]
    # The seeded machine-to-machine client is the resource server that may introspect (RFC 7662 §2.1).
    resource_server = checked(
        OAuth2Session(env_values["OAUTH_M2M_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_SECRET"])
    )
    active = resource_server.introspect_token(introspect, token=token["access_token"]).json()
    assert active["active"] is True
    assert (active["client_id"], active["scope"]) == (env_values["OAUTH_DEMO_CLIENT_ID"], DEFAULT_SCOPE)

    for token_type in ("access_token", "refresh_token"):
        assert client.revoke_token(revoke, token=token[token_type], token_type_hint=token_type).ok
        answer = resource_server.introspect_token(
            introspect, token=token[token_type], token_type_hint=token_type
        )
        assert answer.json() == {"active": False}  # RFC 7662 §2.2: nothing more
    assert api_me(client, metadata["issuer"]).status_code == 401


def test_client_credentials_token_is_accepted_by_the_api(metadata, env_values):
    client_id = env_values["OAUTH_M2M_CLIENT_ID"]
    client = checked(OAuth2Session(client_id, env_values["OAUTH_M2M_CLIENT_SECRET"], scope="read"))
    token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert "refresh_token" not in token and "id_token" not in token
    assert api_me(client, metadata["issuer"]).json() == {"client_id": client_id, "scope": ["read"]}


def start_device_flow(metadata, client_id):
    """RFC 8628 §3.1-3.2: the device asks for codes; then polls, and must be told to wait."""
    device = checked(OAuth2Session(client_id, token_endpoint_auth_method="none"))
    started = device.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": client_id, "scope": "read"},
        withhold_token=True,
    )
    assert started.status_code == 200, started.text
    codes = started.json()
    assert codes["verification_uri"] == f"{metadata['issuer']}/o/device/"
    assert codes["expires_in"] > 0 and codes["interval"] >= 5
    with pytest.raises(OAuthError) as pending:
        poll(device, metadata, codes)
    assert pending.value.error == "authorization_pending"
    return device, codes


def poll(device, metadata, codes):
    return device.fetch_token(
        metadata["token_endpoint"], grant_type=DEVICE_CODE_GRANT, device_code=codes["device_code"]
    )


def answer_on_another_screen(codes, env_values, action):
    """RFC 8628 §3.3: the user opens the verification URI, signs in, checks the code and decides."""
    browser = checked()
    code_page = sign_in(browser, browser.get(codes["verification_uri_complete"]), env_values)
    assert code_page.url == codes["verification_uri_complete"]
    confirm = submit(browser, code_page, user_code=codes["user_code"])
    assert "Live test TV" in confirm.text and "Read your data" in confirm.text
    return submit(browser, confirm, button=("action", action))


def test_device_authorization_grant(metadata, env_values, device_client_id):
    device, codes = start_device_flow(metadata, device_client_id)
    assert "Device connected" in answer_on_another_screen(codes, env_values, "accept").text

    token = poll(device, metadata, codes)
    assert token["scope"] == "read" and token["refresh_token"]
    me = api_me(device, metadata["issuer"]).json()
    assert me["user"]["username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
    # The session is over once the token is out: the same device code gets nothing more.
    with pytest.raises(OAuthError) as replay:
        poll(device, metadata, codes)
    assert replay.value.error == "expired_token"


def test_device_authorization_denied(metadata, env_values, device_client_id):
    device, codes = start_device_flow(metadata, device_client_id)
    assert "Access denied" in answer_on_another_screen(codes, env_values, "deny").text
    with pytest.raises(OAuthError) as denied:
        poll(device, metadata, codes)
    assert denied.value.error == "access_denied"


def test_rp_initiated_logout_through_the_confirm_form(metadata, env_values):
    browser, client, token, _ = sign_in_with_authorization_code(metadata, env_values)
    redirect_uri = env_values["OAUTH_DEMO_REDIRECT_URI"]
    params = {"id_token_hint": token["id_token"], "post_logout_redirect_uri": redirect_uri, "state": "bye"}
    confirm = browser.get(metadata["end_session_endpoint"], params=params)
    assert "demo web app" in confirm.text
    signed_out = submit(browser, confirm, button=("allow", "Logout"), allow_redirects=False)
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"] == f"{redirect_uri}?state=bye"

    # The server session is gone (the next authorization asks for a login again), and so
    # are the tokens issued to the client for this user.
    url, _ = demo_client(metadata, env_values).create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=generate_token(48)
    )
    assert "/accounts/login/" in browser.get(url).url
    assert client.get(metadata["userinfo_endpoint"]).status_code == 401
