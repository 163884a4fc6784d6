"""
The claims about a user and the bearer token's transport, against a live baked server: Authlib
plays the relying party, joserfc verifies the ID tokens from the JWKS
(oauth_helpers.verified_id_token_claims).

OpenID Connect Core 1.0 §5.1, §5.3, §5.5; RFC 6750 §2, §3.1; OAuth 2.1 §5.2; RFC 9700 §4.3.2.
"""

import json
import time
import uuid

import pytest
from authlib.common.security import generate_token

from .live import checked, discover, query_of, sign_in, submit
from .oauth_helpers import demo_client, verified_id_token_claims
from .support import venv_manage

pytestmark = pytest.mark.slow

NAME_CLAIMS = {"name", "given_name", "family_name"}


@pytest.fixture
def metadata(any_live_server):
    return discover(any_live_server)


@pytest.fixture
def sqlite_metadata(live_server):
    return discover(live_server)


def authorization_answer(metadata, env_values, client, claims=None):
    """The admin, signed in, sends the client's authorization request (with a claims request) and
    allows it if asked; return (where the server sends the browser back, state, verifier, nonce)."""
    browser = checked()
    sign_in(browser, browser.get(f"{metadata['issuer']}/accounts/login/"), env_values)
    verifier, nonce = generate_token(48), generate_token(20)
    extra = {} if claims is None else {"claims": claims if isinstance(claims, str) else json.dumps(claims)}
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    # The demo client's redirect URI is not on the live server: read the redirects, do not follow them.
    answer = browser.get(url, allow_redirects=False)
    if answer.status_code == 200:
        answer = submit(browser, answer, button=("allow", "Authorize"), allow_redirects=False)
    assert answer.status_code == 302, answer.text[:3000]
    location = answer.headers["Location"]
    assert location.startswith(env_values["OAUTH_DEMO_REDIRECT_URI"] + "?")
    return location, state, verifier, nonce


def claims_released(metadata, env_values, scope="openid profile email", claims=None):
    """The code flow with that claims request; return (ID token claims, UserInfo claims, client)."""
    client = demo_client(metadata, env_values, scope)
    location, state, verifier, nonce = authorization_answer(metadata, env_values, client, claims)
    token = client.fetch_token(authorization_response=location, state=state, code_verifier=verifier)
    id_token = verified_id_token_claims(metadata, env_values["OAUTH_DEMO_CLIENT_ID"], token, nonce)
    userinfo = client.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200, userinfo.text
    return id_token, userinfo.json(), client


def assert_bearer_invalid_request(response):
    """RFC 6750 §3.1: 400 invalid_request, with a Bearer challenge."""
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')


def test_a_user_without_a_name_gets_no_empty_claims_and_typed_ones(metadata, env_values):
    # The admin `createsuperuser` made has no first or last name. OIDC Core §5.3.2: such a claim
    # is omitted, not empty; §5.1: email_verified a boolean, updated_at a number of seconds. The
    # setup verified the admin's address (manage.py verify_email): email_verified says so.
    id_token, userinfo, _ = claims_released(metadata, env_values)
    for claims in (id_token, userinfo):
        assert not NAME_CLAIMS & set(claims), claims
        assert claims["preferred_username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
        assert claims["email"] == env_values["DJANGO_SUPERUSER_EMAIL"]
        assert claims["email_verified"] is True
        assert type(claims["updated_at"]) is int
        assert 0 < claims["updated_at"] <= time.time()
    assert {"given_name", "updated_at"} <= set(metadata["claims_supported"])


def test_the_claims_request_of_a_third_party_client(metadata, env_values):
    # OIDC Core §5.5: the claims asked for the ID token are what it carries of the user; UserInfo
    # answers with every claim of the granted scopes and those asked for there.
    assert metadata["claims_parameter_supported"] is True
    asked = {"id_token": {"email": {"essential": True}}, "userinfo": {"preferred_username": None}}
    id_token, userinfo, _ = claims_released(metadata, env_values, claims=asked)
    assert id_token["email"] == env_values["DJANGO_SUPERUSER_EMAIL"]
    assert "preferred_username" not in id_token and "updated_at" not in id_token
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["preferred_username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
    assert "updated_at" in userinfo


def test_a_claims_request_stays_within_the_granted_scopes(metadata, env_values):
    asked = {"id_token": {"preferred_username": {"essential": True}}, "userinfo": {"updated_at": None}}
    id_token, userinfo, _ = claims_released(metadata, env_values, scope="openid email", claims=asked)
    for claims in (id_token, userinfo):
        assert claims["sub"]
        assert not {"preferred_username", "updated_at"} & set(claims)
    assert userinfo["email"] == env_values["DJANGO_SUPERUSER_EMAIL"]


@pytest.mark.parametrize("claims", ["{not json", '{"id_token": ["email"]}'])
def test_a_malformed_claims_request_is_invalid_request(sqlite_metadata, env_values, claims):
    # OIDC Core §3.1.2.6: the error, the state and the issuer, to the client; no code.
    client = demo_client(sqlite_metadata, env_values, "openid profile")
    location, state, _, _ = authorization_answer(sqlite_metadata, env_values, client, claims)
    answer = query_of(location)
    issuer = sqlite_metadata["issuer"]
    assert (answer["error"], answer["state"], answer["iss"]) == ("invalid_request", state, issuer)
    assert "code" not in answer


def test_an_id_token_for_another_sub_is_refused(sqlite_metadata, env_values):
    # OIDC Core §5.5.1: never an ID token for another user than the sub asked for.
    client = demo_client(sqlite_metadata, env_values, "openid")
    asked = {"id_token": {"sub": {"value": "someone-else", "essential": True}}}
    location, state, _, _ = authorization_answer(sqlite_metadata, env_values, client, asked)
    answer = query_of(location)
    assert (answer["error"], answer["state"]) == ("login_required", state)
    assert "code" not in answer


def test_bearer_tokens_never_in_the_query_and_in_a_body_only_as_rfc_6750_allows(sqlite_metadata, env_values):
    _, _, client = claims_released(sqlite_metadata, env_values, scope="openid profile email read")
    access_token = client.token["access_token"]
    userinfo, api = sqlite_metadata["userinfo_endpoint"], f"{sqlite_metadata['issuer']}/api/me/"
    plain = checked()
    # OAuth 2.1 §5.2, RFC 9700 §4.3.2: never in the URL, at UserInfo or at a protected resource.
    for url in (userinfo, api):
        assert_bearer_invalid_request(plain.get(url, params={"access_token": access_token}))
    # OIDC Core §5.3.1, RFC 6750 §2.2: UserInfo by POST, the token in a form-encoded body...
    by_form = plain.post(userinfo, data={"access_token": access_token})
    assert by_form.status_code == 200, by_form.text
    assert by_form.json()["preferred_username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
    # ...single-part only, and by one method only (RFC 6750 §3.1).
    assert_bearer_invalid_request(plain.post(userinfo, files={"access_token": (None, access_token)}))
    assert_bearer_invalid_request(client.post(userinfo, data={"access_token": access_token}))
    assert client.get(api).status_code == 200


USERLESS_OPENID_TOKEN = """
import os, secrets
from datetime import timedelta
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
token = secrets.token_urlsafe(32)
get_access_token_model().objects.create(
    token=token, scope="openid read", expires=timezone.now() + timedelta(minutes=5), user=None,
    application=get_application_model().objects.get(client_id=os.environ["M2M_CLIENT_ID"]),
)
print(token)
"""


def test_a_token_that_speaks_for_no_user_is_invalid_token_at_userinfo(sqlite_metadata, env_values, project):
    # OIDC Core §5.3.3, RFC 6750 §3.1: a client's own token carrying openid (client credentials
    # no longer grant it, but one issued before the per-client scopes may) is no user's
    # (DOT: a 500, which checked() refuses).
    made = venv_manage(
        project, "shell", "-c", USERLESS_OPENID_TOKEN, M2M_CLIENT_ID=env_values["OAUTH_M2M_CLIENT_ID"]
    )
    token = made.stdout.split()[-1]
    answer = checked().get(sqlite_metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_sub_is_opaque_and_the_same_at_every_endpoint(metadata, env_values, project, live_database_env):
    # OIDC Core §2: sub is stable and never reassigned; it is a random UUID, not the row's id,
    # which would tell every relying party how many users there are (§17.3).
    first, userinfo, client = claims_released(metadata, env_values, scope="openid read")
    second, _, _ = claims_released(metadata, env_values, scope="openid read")
    assert first["sub"] == second["sub"] == userinfo["sub"]
    assert str(uuid.UUID(first["sub"])) == first["sub"]
    assert client.get(f"{metadata['issuer']}/api/me/").json()["user"]["sub"] == first["sub"]
    probe = "from django.contrib.auth import get_user_model; print(get_user_model().objects.get(is_superuser=True).pk)"
    pk = venv_manage(project, "shell", "-c", probe, **live_database_env).stdout.split()[-1]
    assert first["sub"] != pk
