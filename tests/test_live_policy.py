"""
The server's policies, proven from outside against a live baked server with Authlib as the client:
who may introspect and what it learns (RFC 7662 §2.1, §4), which scopes each client may have
(RFC 6749 §3.3), the form of PKCE values (RFC 7636 §4.1-4.2), and the bounds on what a request
may make the server store.
"""

import secrets
from urllib.parse import urlencode

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .live import DEVICE_CODE_GRANT, checked, discover, query_of, register_client, submit
from .oauth_helpers import authorization_params, authorize, sign_in_and_consent, token_request

pytestmark = pytest.mark.slow

API = "https://api.example.com/"


@pytest.fixture
def metadata(live_server):
    return discover(live_server)


def session(client_id, client_secret, **options):
    """A client as Authlib's session, failing the test on any 5xx."""
    return checked(OAuth2Session(client_id, client_secret, **options))


def machine(env_values, **options):
    """The seeded machine-to-machine client: client credentials, and the example resource server."""
    return session(env_values["OAUTH_M2M_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_SECRET"], **options)


def register_confidential(project, database_env, name, **fields):
    """A confidential client registered by an admin; return its Authlib session."""
    client_id, client_secret = f"live-policy-{name}-{secrets.token_hex(4)}", secrets.token_urlsafe(48)
    register_client(
        project,
        database_env,
        client_id=client_id,
        client_secret=client_secret,
        name=f"Live policy {name}",
        client_type="confidential",
        **fields,
    )
    return session(client_id, client_secret)


def signed_in_browser(base_url, env_values):
    """A browser session signed in as the admin, as before an authorization request."""
    browser = checked()
    login_page = browser.get(f"{base_url}/accounts/login/")
    credentials = {
        "login": env_values["DJANGO_SUPERUSER_USERNAME"],
        "password": env_values["DJANGO_SUPERUSER_PASSWORD"],
    }
    assert submit(browser, login_page, allow_redirects=False, **credentials).status_code == 302
    return browser


def redirect_error(browser, base_url, params):
    """The error an authorization request is answered with at the client's redirect URI."""
    answer = browser.get(f"{base_url}/o/authorize/?{urlencode(params, doseq=True)}", allow_redirects=False)
    assert answer.status_code == 302, answer.text[:3000]
    assert answer.headers["Location"].startswith(params["redirect_uri"] + "?")
    return query_of(answer.headers["Location"])


def test_only_resource_servers_learn_about_tokens(project, live_server, metadata, env_values):
    """RFC 7662 §2.1: the demo web client (no resource server) gets 403, a public client 401,
    and the seeded resource server the answer, never to be cached."""
    code, verifier, redirect_uri = authorize(live_server, env_values)
    tokens = token_request(
        live_server,
        env_values,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
    ).json()
    introspect = metadata["introspection_endpoint"]
    web_client = session(env_values["OAUTH_DEMO_CLIENT_ID"], env_values["OAUTH_DEMO_CLIENT_SECRET"])
    refused = web_client.introspect_token(introspect, token=tokens["access_token"])
    assert (refused.status_code, refused.json()["error"]) == (403, "unauthorized_client")

    register_client(
        project,
        {},
        client_id="live-policy-public-tv",
        name="Live policy TV",
        client_type="public",
        authorization_grant_type=DEVICE_CODE_GRANT,
        is_resource_server=True,
    )
    public = checked(OAuth2Session("live-policy-public-tv", token_endpoint_auth_method="none"))
    # DOT takes a public client's client_id alone as its authentication when the body names the device grant.
    for body in ("", urlencode({"grant_type": DEVICE_CODE_GRANT})):
        answer = public.introspect_token(introspect, token=tokens["access_token"], body=body)
        assert (answer.status_code, answer.json()) == (401, {"error": "invalid_client"})

    answer = machine(env_values).introspect_token(introspect, token=tokens["access_token"])
    assert answer.headers["Cache-Control"] == "no-store"
    claims = answer.json()
    assert (claims["active"], claims["client_id"]) == (True, env_values["OAUTH_DEMO_CLIENT_ID"])
    assert claims["username"] == env_values["DJANGO_SUPERUSER_USERNAME"]


def test_a_token_with_an_audience_is_told_to_its_resource_servers_only(project, metadata, env_values):
    """RFC 7662 §4 with RFC 8707: a resource server outside a token's audience gets {"active": false}."""
    introspect = metadata["introspection_endpoint"]
    fields = {"authorization_grant_type": "client-credentials", "is_resource_server": True}
    api = register_confidential(project, {}, "api", resource_uris=API, **fields)
    other = register_confidential(project, {}, "other", resource_uris="https://other.example.com/", **fields)
    client = machine(env_values, scope="read")
    for_api = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", resource=API)
    answer = api.introspect_token(introspect, token=for_api["access_token"]).json()
    assert (answer["active"], answer["aud"]) == (True, [API])
    assert other.introspect_token(introspect, token=for_api["access_token"]).json() == {"active": False}
    # Meant for no resource in particular: valid at, and told to, every resource server.
    for_any = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    for resource_server in (api, other):
        assert resource_server.introspect_token(introspect, token=for_any["access_token"]).json()["active"]


def test_each_client_gets_only_its_allowed_scopes(project, live_server, metadata, env_values):
    """RFC 6749 §3.3: the registration's allowed scopes; client credentials never the user scopes."""
    token_endpoint = metadata["token_endpoint"]
    for scope in ("openid", "read profile", "email"):
        with pytest.raises(OAuthError) as refused:
            machine(env_values, scope=scope).fetch_token(token_endpoint, grant_type="client_credentials")
        assert refused.value.error == "invalid_scope"

    writer = register_confidential(
        project, {}, "writer", authorization_grant_type="client-credentials", allowed_scopes="write"
    )
    assert (
        writer.fetch_token(token_endpoint, grant_type="client_credentials", scope="write")["scope"] == "write"
    )
    with pytest.raises(OAuthError) as refused:
        writer.fetch_token(token_endpoint, grant_type="client_credentials", scope="read")
    assert refused.value.error == "invalid_scope"

    narrow = register_confidential(
        project,
        {},
        "narrow",
        authorization_grant_type="authorization-code",
        redirect_uris=env_values["OAUTH_DEMO_REDIRECT_URI"],
        algorithm="RS256",
        allowed_scopes="openid read",
    )
    params, _ = authorization_params(
        {**env_values, "OAUTH_DEMO_CLIENT_ID": narrow.client_id}, scope="openid email"
    )
    answer = redirect_error(signed_in_browser(live_server, env_values), live_server, params)
    assert (answer["error"], answer["state"]) == ("invalid_scope", params["state"])


def test_pkce_values_of_the_wrong_form_are_refused(live_server, metadata, env_values):
    """RFC 7636 §4.2: a malformed challenge is invalid_request before consent; §4.1: a verifier
    of the wrong form is invalid_request (RFC 6749 §5.2), even one whose challenge matches."""
    params, _ = authorization_params(env_values)
    answer = redirect_error(
        signed_in_browser(live_server, env_values), live_server, {**params, "code_challenge": "x"}
    )
    assert (answer["error"], answer["state"]) == ("invalid_request", params["state"])

    client = session(
        env_values["OAUTH_DEMO_CLIENT_ID"],
        env_values["OAUTH_DEMO_CLIENT_SECRET"],
        redirect_uri=env_values["OAUTH_DEMO_REDIRECT_URI"],
        token_endpoint=metadata["token_endpoint"],
    )
    for verifier in ("a", "a" * 129, "not allowed: spaces or a slash/" + "x" * 20):
        params, _ = authorization_params(env_values)
        params["code_challenge"] = create_s256_code_challenge(verifier)
        code = sign_in_and_consent(live_server, env_values, params)[0]["code"]
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(code=code, code_verifier=verifier)
        assert refused.value.error == "invalid_request"


def test_what_a_request_stores_is_bounded_and_its_scopes_stored_once(any_live_server, env_values):
    """On SQLite and PostgreSQL: a 150 kB scope or an overlong nonce is invalid_request; a
    repeated scope is granted and stored once."""
    metadata = discover(any_live_server)
    client = machine(env_values)
    huge = checked().post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "read " * 30_000},
        auth=(env_values["OAUTH_M2M_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_SECRET"]),
    )
    assert (huge.status_code, huge.json()["error"]) == (400, "invalid_request")

    token = client.fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials", scope="read read read"
    )
    assert token["scope"] == "read"
    stored = client.introspect_token(metadata["introspection_endpoint"], token=token["access_token"]).json()
    assert stored["scope"] == "read"

    params, _ = authorization_params(env_values, nonce="n" * 256)
    answer = redirect_error(signed_in_browser(any_live_server, env_values), any_live_server, params)
    assert (answer["error"], answer["state"]) == ("invalid_request", params["state"])
