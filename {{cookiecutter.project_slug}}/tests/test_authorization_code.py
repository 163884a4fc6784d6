"""Authorization code + PKCE with login and consent (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1)."""

import base64
import hashlib

import pytest
from django.conf import settings

from .conftest import DEMO_REDIRECT_URI, AuthorizationRequest, query_of, verify_id_token

pytestmark = pytest.mark.django_db


def test_login_page_is_shown_to_anonymous_users(client, demo_client):
    request = AuthorizationRequest(demo_client.client_id)
    response = client.get(request.url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_consent_page_names_the_client_and_describes_each_scope(client, user, demo_client):
    client.force_login(user)
    response = client.get(AuthorizationRequest(demo_client.client_id, scope="openid email read").url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "demo web app" in page
    for scope in ("openid", "email", "read"):
        assert settings.OAUTH_SCOPES[scope] in page
    assert settings.OAUTH_SCOPES["write"] not in page


def test_full_flow_issues_tokens_and_a_valid_id_token(client, authorize, exchange, demo_client, user):
    # OIDC Core §3.1.3.3 (token response) and §3.1.3.7 (ID token validation) as a relying party does them.
    request, code = authorize()
    response = exchange(request, code)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert set(body["scope"].split()) == {"openid", "profile", "email", "read"}
    assert body["refresh_token"]

    claims = verify_id_token(client, body["id_token"])
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == demo_client.client_id
    assert claims["sub"] == str(user.pk)
    assert claims["nonce"] == request.nonce
    assert claims["email"] == "alice@example.com"
    assert claims["name"] == "Alice Liddell"
    assert claims["preferred_username"] == "alice"
    assert claims["exp"] > claims["iat"]
    # OIDC Core §3.1.3.6: at_hash is the left half of SHA-256 of the access token.
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_authorization_response_carries_the_issuer(client, user, demo_client):
    # RFC 9207 §2: the iss parameter defends against mix-up attacks.
    client.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    response = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert query_of(response["Location"])["iss"] == "http://testserver"


def test_claims_follow_the_granted_scopes(client, authorize, exchange):
    request, code = authorize(scope="openid read")
    claims = verify_id_token(client, exchange(request, code).json()["id_token"])
    assert "email" not in claims
    assert "name" not in claims


def test_userinfo_returns_the_claims_of_the_granted_scopes(client, authorize, exchange, user):
    # OIDC Core §5.3.2 and §5.4: the claims of the granted scopes, and sub.
    request, code = authorize(scope="openid email")
    token = exchange(request, code).json()["access_token"]
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"sub": str(user.pk), "email": "alice@example.com", "email_verified": False}


def test_denying_consent_redirects_with_access_denied(client, user, demo_client):
    # RFC 6749 §4.1.2.1: access_denied, with the state, at the redirect URI.
    client.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    response = client.post(request.url, request.params)
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert answer["error"] == "access_denied"
    assert answer["state"] == request.state


def test_pkce_is_required(client, user, demo_client):
    # RFC 9700 §2.1.1 / OAuth 2.1 §4.1.1: no code without a code challenge.
    client.force_login(user)
    params = AuthorizationRequest(demo_client.client_id).params
    del params["code_challenge"], params["code_challenge_method"]
    response = client.get("/o/authorize/", params)
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["plain", None])
def test_plain_pkce_is_refused_before_consent(client, user, demo_client, method):
    # RFC 9700 §2.1.1: S256 only; a missing method means "plain" (RFC 7636 §4.3).
    client.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    params = {**request.params, "code_challenge": request.code_verifier, "code_challenge_method": method}
    response = client.get("/o/authorize/", {k: v for k, v in params.items() if v is not None})
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused(authorize, exchange):
    # RFC 7636 §4.6: the verifier must hash to the challenge, else invalid_grant.
    request, code = authorize()
    response = exchange(request, code, code_verifier="x" * 50)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_is_single_use(authorize, exchange):
    # RFC 6749 §4.1.2: the client must not use a code more than once; the server refuses.
    request, code = authorize()
    assert exchange(request, code).status_code == 200
    replay = exchange(request, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_exactly(client, user, demo_client):
    # RFC 9700 §4.1.1: exact string matching; a mismatch is shown, never redirected to.
    client.force_login(user)
    for uri in (DEMO_REDIRECT_URI + "extra", DEMO_REDIRECT_URI.rstrip("/"), "https://evil.example/cb"):
        request = AuthorizationRequest(demo_client.client_id, redirect_uri=uri)
        response = client.get(request.url)
        assert response.status_code == 400, uri
        assert b"invalid_request" in response.content or b"Mismatching redirect URI" in response.content


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token"])
def test_implicit_grant_is_refused(client, user, demo_client, response_type):
    # RFC 9700 §2.1.2: the implicit grant is not supported.
    client.force_login(user)
    params = {**AuthorizationRequest(demo_client.client_id).params, "response_type": response_type}
    response = client.get("/o/authorize/", params)
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert answer["error"] == "unsupported_response_type"
    assert "access_token" not in response["Location"]


def test_unknown_scope_is_refused(client, user, demo_client):
    # RFC 6749 §4.1.2.1 and §3.3: invalid_scope.
    client.force_login(user)
    response = client.get(AuthorizationRequest(demo_client.client_id, scope="openid admin:everything").url)
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_scope"
