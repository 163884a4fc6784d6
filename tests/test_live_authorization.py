"""
The authorization endpoint's OpenID Connect behaviour against a live baked server: requests by
POST (OIDC Core §3.1.2.1), request objects refused (§6), remembered consent with prompt=none and
its withdrawal (§3.1.2.1), and auth_time as the time this session signed in (§2, §12.2).
"""

import secrets
import time
from urllib.parse import urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from .live import FormParser, checked, discover, query_of, register_client, sign_in, submit
from .oauth_helpers import authorization_params

pytestmark = pytest.mark.slow


def remembering_client(project, database_env, env_values):
    """A confidential web client that remembers consent, on the demo redirect URI: (client_id, secret)."""
    client_id, secret = f"live-authz-{secrets.token_hex(4)}", secrets.token_urlsafe(48)
    register_client(
        project,
        database_env,
        client_id=client_id,
        client_secret=secret,
        name=f"Remembering app {client_id}",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=env_values["OAUTH_DEMO_REDIRECT_URI"],
        algorithm="RS256",
        always_ask_consent=False,
    )
    return client_id, secret


def params_for(env_values, client_id, **extra):
    params, verifier = authorization_params(env_values, state=secrets.token_urlsafe(8))
    return {**params, "client_id": client_id, **extra}, verifier


def redeem(base_url, credentials, params, verifier, code):
    response = checked().post(
        f"{base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": params["redirect_uri"],
            "code_verifier": verifier,
        },
        auth=credentials,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def claims_of(base_url, id_token):
    keys = KeySet.import_key_set(checked().get(f"{base_url}/o/.well-known/jwks.json").json())
    return jwt.decode(id_token, keys).claims


def answered_at_redirect_uri(response, params):
    assert response.status_code == 302, response.text[:3000]
    location = response.headers["Location"]
    assert location.startswith(params["redirect_uri"] + "?"), location
    return query_of(location)


def test_authorization_request_by_post_from_another_origin(any_live_server, env_values):
    """OIDC Core §3.1.2.1: a form on the client's page posts the request (no CSRF token of ours):
    the login page, the consent page, the code; the consent answer still needs the CSRF token."""
    base_url = any_live_server
    params, verifier = authorization_params(env_values)
    from_client_page = {"Origin": "https://rp.example", "Referer": "https://rp.example/sign-in"}
    browser = checked()
    login_page = browser.post(f"{base_url}/o/authorize/", data=params, headers=from_client_page)
    consent_page = sign_in(browser, login_page, env_values)
    assert consent_page.status_code == 200 and 'name="allow"' in consent_page.text
    consent_page = browser.post(f"{base_url}/o/authorize/", data=params, headers=from_client_page)
    assert consent_page.status_code == 200 and 'name="allow"' in consent_page.text
    assert urlsplit(consent_page.url).query == ""
    forged = browser.post(
        f"{base_url}/o/authorize/", data={**params, "allow": "Authorize"}, headers=from_client_page
    )
    assert forged.status_code == 403
    answer = answered_at_redirect_uri(
        submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False), params
    )
    assert (answer["state"], answer["iss"]) == (params["state"], base_url)
    credentials = (env_values["OAUTH_DEMO_CLIENT_ID"], env_values["OAUTH_DEMO_CLIENT_SECRET"])
    tokens = redeem(base_url, credentials, params, verifier, answer["code"])
    assert claims_of(base_url, tokens["id_token"])["nonce"] == params["nonce"]
    silent = checked().post(
        f"{base_url}/o/authorize/",
        data={**params, "prompt": "none"},
        headers=from_client_page,
        allow_redirects=False,
    )
    assert answered_at_redirect_uri(silent, params)["error"] == "login_required"


@pytest.mark.parametrize(
    ("parameter", "value", "error"),
    [
        ("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.", "request_not_supported"),
        ("request_uri", "https://rp.example/request.jwt", "request_uri_not_supported"),
    ],
)
def test_request_objects_are_refused_and_discovery_says_so(live_server, env_values, parameter, value, error):
    """OIDC Core §6.1, §6.2, §3.1.2.6; OIDC Discovery 1.0 §3: refused at the redirect URI, never ignored."""
    params, _ = authorization_params(env_values)
    session = checked()
    for response in (
        session.get(
            f"{live_server}/o/authorize/?{urlencode({**params, parameter: value})}", allow_redirects=False
        ),
        session.post(f"{live_server}/o/authorize/", data={**params, parameter: value}, allow_redirects=False),
    ):
        answer = answered_at_redirect_uri(response, params)
        assert (answer["error"], answer["state"], answer["iss"]) == (error, params["state"], live_server)
    server_metadata = checked().get(f"{live_server}/.well-known/oauth-authorization-server").json()
    for document in (discover(live_server), server_metadata):
        assert document["request_parameter_supported"] is False
        assert document["request_uri_parameter_supported"] is False


def withdrawal_form(page, client_id):
    """The form of the consents page that withdraws the consent given to that client."""
    parser = FormParser()
    parser.feed(page.text)
    for form in parser.forms:
        if form.fields.get("client_id") == client_id:
            return form
    raise AssertionError(f"No consent for {client_id} on {page.url}:\n{page.text[:3000]}")


def test_remembered_consent_prompt_none_and_withdrawal(
    project, any_live_server, live_database_env, env_values
):
    """OIDC Core §3.1.2.1: a returning user who allowed the client gets a code with prompt=none,
    id_token_hint too; withdrawing consent on the user's page revokes the client's tokens and
    prompt=none is consent_required again."""
    base_url = any_live_server
    client_id, secret = remembering_client(project, live_database_env, env_values)
    params, verifier = params_for(env_values, client_id)
    browser = checked()
    consent_page = sign_in(browser, browser.get(f"{base_url}/o/authorize/?{urlencode(params)}"), env_values)
    answer = answered_at_redirect_uri(
        submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False), params
    )
    tokens = redeem(base_url, (client_id, secret), params, verifier, answer["code"])
    params, verifier = params_for(env_values, client_id, prompt="none", id_token_hint=tokens["id_token"])
    silent = browser.get(f"{base_url}/o/authorize/?{urlencode(params)}", allow_redirects=False)
    answer = answered_at_redirect_uri(silent, params)
    assert answer["state"] == params["state"]
    again = redeem(base_url, (client_id, secret), params, verifier, answer["code"])
    assert claims_of(base_url, again["id_token"])["sub"] == claims_of(base_url, tokens["id_token"])["sub"]

    page = browser.get(f"{base_url}/accounts/consents/")
    assert page.status_code == 200 and f"Remembering app {client_id}" in page.text
    form = withdrawal_form(page, client_id)
    withdrawn = browser.post(
        f"{base_url}/accounts/consents/", data=form.fields, headers={"Referer": page.url}
    )
    assert withdrawn.status_code == 200 and client_id not in withdrawn.text
    for access_token in (tokens["access_token"], again["access_token"]):
        api = checked().get(f"{base_url}/api/me/", headers={"Authorization": f"Bearer {access_token}"})
        assert api.status_code == 401
    refresh = checked().post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": again["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refresh.json()["error"] == "invalid_grant"
    params, _ = params_for(env_values, client_id, prompt="none")
    silent = browser.get(f"{base_url}/o/authorize/?{urlencode(params)}", allow_redirects=False)
    assert answered_at_redirect_uri(silent, params)["error"] == "consent_required"


def test_auth_time_is_when_this_session_signed_in(project, live_server, env_values):
    """OIDC Core §2, §12.2: auth_time (and max_age) count from this session's sign-in, which
    another device signing in does not move, in refresh-issued ID tokens too."""
    client_id, secret = remembering_client(project, {}, env_values)
    params, verifier = params_for(env_values, client_id)
    this_device = checked()
    consent_page = sign_in(
        this_device, this_device.get(f"{live_server}/o/authorize/?{urlencode(params)}"), env_values
    )
    answer = answered_at_redirect_uri(
        submit(this_device, consent_page, button=("allow", "Authorize"), allow_redirects=False), params
    )
    tokens = redeem(live_server, (client_id, secret), params, verifier, answer["code"])
    signed_in_here = claims_of(live_server, tokens["id_token"])["auth_time"]

    time.sleep(5)
    other_device = checked()
    sign_in(other_device, other_device.get(f"{live_server}/accounts/login/"), env_values)
    fresh = {"prompt": "none", "max_age": "3"}
    params, verifier = params_for(env_values, client_id, **fresh)
    answer = answered_at_redirect_uri(
        other_device.get(f"{live_server}/o/authorize/?{urlencode(params)}", allow_redirects=False), params
    )
    signed_in_there = claims_of(
        live_server, redeem(live_server, (client_id, secret), params, verifier, answer["code"])["id_token"]
    )["auth_time"]
    assert signed_in_there >= signed_in_here + 5

    params, _ = params_for(env_values, client_id, **fresh)
    stale = this_device.get(f"{live_server}/o/authorize/?{urlencode(params)}", allow_redirects=False)
    assert answered_at_redirect_uri(stale, params)["error"] == "login_required"
    params, verifier = params_for(env_values, client_id, prompt="none")
    answer = answered_at_redirect_uri(
        this_device.get(f"{live_server}/o/authorize/?{urlencode(params)}", allow_redirects=False), params
    )
    tokens = redeem(live_server, (client_id, secret), params, verifier, answer["code"])
    assert claims_of(live_server, tokens["id_token"])["auth_time"] == signed_in_here
    refreshed = checked().post(
        f"{live_server}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(live_server, refreshed.json()["id_token"])["auth_time"] == signed_in_here
