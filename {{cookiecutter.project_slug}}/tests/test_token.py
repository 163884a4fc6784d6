"""
The token endpoint: RFC 6749 §2.3, §4.1.3, §4.4, §5, §6; RFC 7636; RFC 9700 §4.14.
Code: authserver/endpoints/token.py.
"""

import base64
import hashlib
from datetime import timedelta
from urllib.parse import quote_plus, urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from .support import (
    DEMO_REDIRECT_URI,
    OTHER_REDIRECT_URI,
    AuthorizationRequest,
    Credentials,
    api_me_status,
    query_of,
    register_client,
    token_request,
)

pytestmark = pytest.mark.django_db


def test_client_credentials_with_basic_auth(client, m2m_client):
    # RFC 6749 §2.3.1 (servers must support HTTP Basic) and §4.4.
    response = token_request(client, m2m_client, grant_type="client_credentials", scope="read")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "read"
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"


def test_client_credentials_with_post_body(client, m2m_client):
    response = client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": m2m_client.client_id,
            "client_secret": m2m_client.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "read"  # the default scope


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_wrong_client_secret_is_invalid_client(client, m2m_client, secret):
    # RFC 6749 §5.2: failed client authentication is invalid_client, 401.
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": m2m_client.client_id, "client_secret": secret},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_secret_is_stored_with_the_cheap_hasher(application_model, m2m_client):
    stored = application_model.objects.get(client_id=m2m_client.client_id).client_secret
    assert stored.startswith("client_secret_sha256$")
    assert m2m_client.client_secret not in stored


def test_tokens_are_stored_hashed(client, m2m_client):
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    stored = get_access_token_model().objects.get()
    # RFC 9700 §4: a database leak must not leak usable tokens.
    assert stored.token != token
    assert token not in stored.token_checksum


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:example:unknown"])
def test_unsupported_grants_are_refused(client, m2m_client, grant_type):
    # RFC 9700 §2.4 (no password grant) and RFC 6749 §5.2 (unsupported_grant_type).
    response = token_request(client, m2m_client, grant_type=grant_type, username="alice", password="x")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_refresh_rotates_the_refresh_token(authorize, exchange, client, demo_client):
    # RFC 9700 §4.14.2 and OAuth 2.1 §4.3: a new refresh token with every refresh.
    request, code = authorize()
    first = exchange(request, code).json()
    response = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]


def test_replayed_refresh_token_revokes_the_whole_family(authorize, exchange, client, demo_client):
    # RFC 9700 §4.14.2: reuse of a rotated refresh token invalidates the active one too.
    request, code = authorize()
    first = exchange(request, code).json()
    second = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    replay = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    after = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


def test_code_is_bound_to_the_client(authorize, client, other_client):
    """RFC 6749 §4.1.3: a code issued to one client is refused to another."""
    request, code = authorize()
    response = token_request(
        client,
        other_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=request.redirect_uri,
        code_verifier=request.code_verifier,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_redirect_uri(authorize, exchange, demo_application):
    """RFC 6749 §4.1.3 and §5.2: another registered redirect URI is invalid_grant."""
    demo_application.redirect_uris = f"{DEMO_REDIRECT_URI} {OTHER_REDIRECT_URI}"
    demo_application.save()
    request, code = authorize()
    response = exchange(request, code, redirect_uri=OTHER_REDIRECT_URI)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert exchange(request, code).status_code == 200


def test_code_lives_a_minute_and_not_after(authorize, exchange):
    """RFC 6749 §4.1.2: codes are short-lived (10 minutes at most recommended)."""
    assert settings.OAUTH2_PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"] <= 600
    request, code = authorize()
    grant = get_grant_model().objects.get(code=code)
    assert grant.expires - timezone.now() <= timedelta(seconds=60)
    grant.expires = timezone.now() - timedelta(seconds=1)
    grant.save()
    response = exchange(request, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_reused_code_revokes_the_tokens_issued_from_it(authorize, exchange, client, demo_client):
    """RFC 6749 §4.1.2 and §10.5: a code used twice is refused and its tokens revoked."""
    request, code = authorize()
    first = exchange(request, code).json()
    assert api_me_status(client, first["access_token"]) == 200
    replay = exchange(request, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert api_me_status(client, first["access_token"]) == 401
    refresh = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refresh.status_code == 400


def test_missing_code_verifier_is_refused(authorize, client, demo_client):
    """RFC 7636 §4.6 and OAuth 2.1 §4.1.3: a code issued with a challenge needs its verifier."""
    request, code = authorize()
    response = token_request(
        client, demo_client, grant_type="authorization_code", code=code, redirect_uri=request.redirect_uri
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_response_is_never_cached(authorize, exchange):
    """RFC 6749 §5.1 and OIDC Core §3.1.3.3: Cache-Control: no-store, Pragma: no-cache, JSON."""
    request, code = authorize()
    response = exchange(request, code)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    assert response["Content-Type"] == "application/json"


def test_failed_basic_authentication_is_401_with_a_basic_challenge(client, m2m_client):
    """RFC 6749 §5.2: 401 and WWW-Authenticate with the scheme the client used (oauthlib says Bearer)."""
    wrong = Credentials(m2m_client.client_id, "wrong-secret")
    response = token_request(client, wrong, grant_type="client_credentials")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_client_secret_in_the_url_is_refused(client, m2m_client):
    """RFC 6749 §2.3.1: client credentials never in the request URI; the error is JSON (§5.2)."""
    query = urlencode({"client_id": m2m_client.client_id, "client_secret": m2m_client.client_secret})
    response = client.post(f"/o/token/?{query}", {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


def test_token_endpoint_takes_post_only(client):
    """RFC 6749 §3.2: the client uses POST."""
    assert client.get("/o/token/").status_code == 405


def test_refresh_token_is_bound_to_its_client(authorize, exchange, client, other_client):
    """RFC 6749 §6 and §10.4: a refresh token works only for the client it was issued to."""
    request, code = authorize()
    refresh_token = exchange(request, code).json()["refresh_token"]
    response = token_request(client, other_client, grant_type="refresh_token", refresh_token=refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_cannot_widen_the_scope(authorize, exchange, client, demo_client, demo_application):
    """RFC 6749 §6: no scope beyond the original grant; a narrower one is fine."""
    request, code = authorize(scope="openid read")
    refresh_token = exchange(request, code).json()["refresh_token"]
    wider = token_request(
        client,
        demo_client,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        scope="openid read write",
    )
    assert wider.status_code == 400
    assert wider.json() == {
        "error": "invalid_scope",
        "error_description": f"The refresh token of client {demo_application.name} ({demo_client.client_id}) "
        "was not granted write.",
    }
    narrower = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=refresh_token, scope="read"
    )
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "read"


@pytest.mark.parametrize("path", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_more_than_one_client_authentication_method_is_invalid_request(client, m2m_client, demo_client, path):
    """RFC 6749 §2.3: one method a request. Basic with credentials in the body too is refused
    before either is checked; Basic with its own client_id in the body only names the client."""
    form = {"grant_type": "client_credentials", "token": "x"}
    for body in (
        {"client_secret": m2m_client.client_secret},
        {"client_id": m2m_client.client_id, "client_secret": m2m_client.client_secret},
        {"client_id": demo_client.client_id},
        {"client_id": demo_client.client_id, "client_secret": demo_client.client_secret},
    ):
        response = client.post(path, {**form, **body}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
        assert response.status_code == 400, body
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "invalid_request"
    named = client.post(
        path, {**form, "client_id": m2m_client.client_id}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    assert named.status_code == 200, named.content


@pytest.mark.parametrize("path", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_client_endpoints_take_posts_without_a_csrf_token(m2m_client, path):
    """Clients, not browsers, post here: no CSRF cookie or token (Django's test client skips the check)."""
    response = Client(enforce_csrf_checks=True).post(
        path, {"grant_type": "client_credentials", "token": "x"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    assert response.status_code == 200, response.content


def test_basic_credentials_are_form_urlencoded(client, application_model, seeded):
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64."""
    awkward = register_client(
        application_model,
        "secret with spaces:and+colons " + "x" * 30,
        name="awkward secret",
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
    )
    raw = f"{quote_plus(awkward.client_id)}:{quote_plus(awkward.client_secret)}".encode()
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(raw).decode(),
    )
    assert response.status_code == 200, response.content


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("verifier", ["a", "a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "/", "é" * 43])
def test_malformed_code_verifier_is_invalid_request(client, signed_in, demo_client, exchange, verifier):
    """RFC 7636 §4.1: 43-128 of [A-Z a-z 0-9 - . _ ~], even when its challenge matches. Malformed, so
    RFC 6749 §5.2's invalid_request; invalid_grant (RFC 7636 §4.6) is for a verifier that does not match."""
    request = AuthorizationRequest(demo_client.client_id)
    request.code_verifier, request.code_challenge = verifier, s256(verifier)
    code = query_of(client.post(request.url, {**request.params, "allow": "Authorize"})["Location"])["code"]
    response = exchange(request, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert not get_access_token_model().objects.exists()


def test_code_verifiers_of_43_and_128_characters_are_accepted(client, signed_in, demo_client, exchange):
    for verifier in ("A-._~" + "z" * 38, "9" * 128):
        request = AuthorizationRequest(demo_client.client_id)
        request.code_verifier, request.code_challenge = verifier, s256(verifier)
        code = query_of(client.post(request.url, {**request.params, "allow": "Authorize"})["Location"])[
            "code"
        ]
        assert exchange(request, code).status_code == 200


def test_scope_is_bounded_and_stored_once(client, m2m_client):
    """A scope longer than PARAMETER_LIMITS allows (authserver/parameters.py) is invalid_request, and a
    repeated scope is granted once (RFC 6749 §3.3: the scope is a set)."""
    huge = token_request(client, m2m_client, grant_type="client_credentials", scope="read " * 30_000)
    assert (huge.status_code, huge.json()["error"]) == (400, "invalid_request")
    assert not get_access_token_model().objects.exists()
    repeated = token_request(
        client, m2m_client, grant_type="client_credentials", scope="read write read read"
    )
    assert repeated.json()["scope"] == "read write"
    assert get_access_token_model().objects.get().scope == "read write"


def test_refresh_scope_is_stored_once(authorize, exchange, client, demo_client):
    request, code = authorize(scope="openid read")
    refresh_token = exchange(request, code).json()["refresh_token"]
    narrower = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=refresh_token, scope="read read read"
    )
    assert narrower.json()["scope"] == "read"


def test_an_error_while_the_tokens_are_saved_keeps_nothing_of_the_request(
    signed_in, client, demo_client, exchange
):
    """The request validator saves the tokens without a savepoint of their own (validator.py): an
    OAuth error there rolls the request's transaction back whole, the ID token made before too."""
    request = AuthorizationRequest(demo_client.client_id, scope="openid read")
    approved = client.post(
        request.url, {**request.params, "resource": "https://api.example.com/", "allow": "Authorize"}
    )
    code = query_of(approved["Location"])["code"]
    # RFC 8707 §2: a token request may narrow the code's resources, never name another (DOT
    # refuses it while it saves the tokens).
    refused = exchange(request, code, resource="https://other.example.com/")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_target"
    assert not get_id_token_model().objects.exists()
    assert not get_access_token_model().objects.exists()
    tokens = exchange(request, code)
    assert tokens.status_code == 200, tokens.content
    assert get_id_token_model().objects.count() == 1
