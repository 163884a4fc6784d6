"""
What RFC 6749, RFC 7009, RFC 7636, RFC 7662, RFC 9207, RFC 9700 and OpenID Connect Core 1.0
require of an authorization server, one test per requirement, each naming its section.

README.md, "Standards conformance", lists them with the tests already elsewhere in this folder.
"""

import base64
from datetime import timedelta
from urllib.parse import quote_plus, urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from .conftest import (
    DEMO_REDIRECT_URI,
    PASSWORD,
    AuthorizationRequest,
    Credentials,
    query_of,
    verify_id_token,
)

pytestmark = pytest.mark.django_db

ISSUER = "http://testserver"
OTHER_REDIRECT_URI = "http://127.0.0.1:8000/other/callback/"


def token_request(client, credentials, **data):
    return client.post("/o/token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


def api_me_status(client, access_token):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


@pytest.fixture
def demo_application(application_model, demo_client):
    return application_model.objects.get(client_id=demo_client.client_id)


def register_client(application_model, secret, **fields):
    """A confidential client with that secret; return its Credentials."""
    application = application_model.objects.create(
        client_type=application_model.CLIENT_CONFIDENTIAL, client_secret=secret, **fields
    )
    return Credentials(application.client_id, secret)


@pytest.fixture
def other_client(application_model, seeded):
    """A second authorization-code client with the demo client's redirect URI."""
    return register_client(
        application_model,
        "other-client-secret-" + "x" * 40,
        name="other app",
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=DEMO_REDIRECT_URI,
        algorithm=application_model.RS256_ALGORITHM,
    )


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return user


def authorize_with(client, request, **extra):
    return client.get("/o/authorize/", {**request.params, **extra})


def assert_error_sent_to_the_client(response, request, error):
    """RFC 6749 §4.1.2.1 and RFC 9207 §2: a redirect to the client with the error, its state and iss."""
    assert response.status_code == 302
    assert response["Location"].startswith(request.redirect_uri)
    assert query_of(response["Location"]) == {"error": error, "state": request.state, "iss": ISSUER}


# Authorization endpoint: RFC 6749 §3.1 and §4.1.1-4.1.2.1, RFC 9207, RFC 9700


def test_unknown_client_is_told_to_the_user_not_redirected(client, signed_in, demo_client):
    """RFC 6749 §4.1.2.1: an invalid client_id is shown to the user, never redirected."""
    response = client.get(AuthorizationRequest("no-such-client").url)
    assert response.status_code == 400
    assert "Location" not in response
    assert b"invalid_client" in response.content or b"invalid_request" in response.content


def test_missing_client_id_is_told_to_the_user_not_redirected(client, signed_in, demo_client):
    """RFC 6749 §4.1.2.1: a missing client_id is shown to the user, never redirected."""
    params = AuthorizationRequest(demo_client.client_id).params
    del params["client_id"]
    response = client.get("/o/authorize/", params)
    assert response.status_code == 400
    assert "Location" not in response


def test_repeated_parameter_is_refused_without_redirect(client, signed_in, demo_client):
    """RFC 6749 §3.1: request parameters must not be included more than once."""
    request = AuthorizationRequest(demo_client.client_id)
    response = client.get(f"{request.url}&state=second")
    assert response.status_code == 400
    assert "Location" not in response


def test_other_errors_go_to_the_client_with_state_and_issuer(client, signed_in, demo_client):
    """RFC 6749 §4.1.2.1 and RFC 9207 §2: the error, the state and the issuer, at the redirect URI."""
    request = AuthorizationRequest(demo_client.client_id, scope="openid no-such-scope")
    assert_error_sent_to_the_client(client.get(request.url), request, "invalid_scope")


def test_access_denied_carries_the_issuer(client, signed_in, demo_client):
    """RFC 9207 §2: error responses carry iss too (DOT adds it to successful ones only)."""
    request = AuthorizationRequest(demo_client.client_id)
    assert_error_sent_to_the_client(client.post(request.url, request.params), request, "access_denied")


def test_state_is_returned_exactly(client, signed_in, demo_client):
    """RFC 6749 §4.1.2: state comes back exactly as the client sent it."""
    request = AuthorizationRequest(demo_client.client_id)
    request.state = "a b+c/d=é&?"
    response = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert query_of(response["Location"])["state"] == request.state


def test_response_to_a_form_post_is_302_not_307(client, user, demo_client):
    """RFC 9700 §4.12: never 307 after a form carrying credentials (the browser would repost them)."""
    request = AuthorizationRequest(demo_client.client_id)
    login = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD, "next": request.url}
    )
    assert login.status_code == 302
    consent = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert consent.status_code == 302


def test_loopback_redirect_uri_may_use_any_port(client, signed_in, demo_application, demo_client):
    """RFC 8252 §7.3 (OAuth 2.1 §8.4.2): native apps' loopback redirect URIs match on any port."""
    demo_application.redirect_uris = "http://127.0.0.1/callback"
    demo_application.save()
    request = AuthorizationRequest(demo_client.client_id, redirect_uri="http://127.0.0.1:51004/callback")
    assert client.get(request.url).status_code == 200
    request = AuthorizationRequest(demo_client.client_id, redirect_uri="http://127.0.0.1:51004/elsewhere")
    assert client.get(request.url).status_code == 400


def test_nul_in_a_parameter_is_invalid_request(client, signed_in, demo_client):
    """RFC 6749 Appendix A: parameter values are printable characters."""
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, nonce="a\x00b")["Location"])
    assert answer["error"] == "invalid_request"


# OpenID Connect Core §3.1.2.1: prompt and max_age


def test_prompt_none_without_a_session_is_login_required(client, demo_client):
    """OIDC Core §3.1.2.1 and §3.1.2.6: no page; login_required at the redirect URI."""
    request = AuthorizationRequest(demo_client.client_id)
    assert_error_sent_to_the_client(authorize_with(client, request, prompt="none"), request, "login_required")


def test_prompt_none_never_redirects_to_an_unregistered_uri(client, demo_client):
    """OIDC Core §3.1.2.6 with RFC 6749 §4.1.2.1: a bad redirect URI is shown, not followed."""
    request = AuthorizationRequest(demo_client.client_id, redirect_uri="https://evil.example/cb")
    response = authorize_with(client, request, prompt="none")
    assert response.status_code == 400
    assert "Location" not in response


def test_prompt_none_without_consent_is_consent_required(client, signed_in, demo_client):
    """OIDC Core §3.1.2.1: prompt=none shows no consent page; consent_required instead."""
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, prompt="none")
    assert_error_sent_to_the_client(response, request, "consent_required")


def test_prompt_none_for_a_preapproved_client_issues_a_code_silently(
    client, signed_in, demo_application, demo_client
):
    """OIDC Core §3.1.2.1: with a session and consent on record, prompt=none succeeds without UI."""
    demo_application.skip_authorization = True
    demo_application.save()
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, prompt="none")
    assert response.status_code == 302
    assert query_of(response["Location"])["code"]


def test_prompt_none_with_an_old_sign_in_and_max_age_is_login_required(client, signed_in, demo_client):
    """OIDC Core §3.1.2.1: max_age needs a fresh sign-in, which prompt=none cannot ask for."""
    type(signed_in).objects.filter(pk=signed_in.pk).update(last_login=timezone.now() - timedelta(hours=1))
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, prompt="none", max_age="60")["Location"])
    assert answer["error"] == "login_required"


def test_prompt_none_with_another_value_is_invalid_request(client, signed_in, demo_client):
    """OIDC Core §3.1.2.1: none with any other value is an error."""
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, prompt="none login")["Location"])
    assert answer["error"] == "invalid_request"


def sign_in_again(client, user, login_location):
    """Submit the login form the server sent a signed-in user to; return where it continues."""
    login_page = client.get(login_location)
    assert login_page.status_code == 200, "the login form is shown although a session exists"
    next_url = login_page.context["next"]
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302
    assert response["Location"] == next_url
    return next_url


def consent_and_exchange(client, request, exchange):
    code = query_of(client.post(request.url, {**request.params, "allow": "Authorize"})["Location"])["code"]
    return verify_id_token(client, exchange(request, code).json()["id_token"])


def test_prompt_login_asks_a_signed_in_user_to_sign_in_again(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1 prompt=login, and §2 auth_time: the ID token tells when that sign-in was."""
    long_ago = timezone.now() - timedelta(hours=1)
    type(signed_in).objects.filter(pk=signed_in.pk).update(last_login=long_ago)
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, prompt="login")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    next_url = sign_in_again(client, signed_in, response["Location"])
    assert "prompt" not in query_of(next_url)
    assert client.get(next_url).status_code == 200
    claims = consent_and_exchange(client, request, exchange)
    assert claims["auth_time"] > long_ago.timestamp() + 60


def test_max_age_older_than_the_sign_in_asks_to_sign_in_again(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1 max_age: an older sign-in forces a new one; auth_time then satisfies it."""
    type(signed_in).objects.filter(pk=signed_in.pk).update(last_login=timezone.now() - timedelta(hours=1))
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, max_age="60")
    assert response["Location"].startswith("/accounts/login/")
    next_url = sign_in_again(client, signed_in, response["Location"])
    assert client.get(next_url).status_code == 200
    claims = consent_and_exchange(client, request, exchange)
    assert timezone.now().timestamp() - claims["auth_time"] <= 60


def test_max_age_younger_than_the_sign_in_goes_on(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1 max_age, §2 auth_time: a recent enough sign-in needs no other."""
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request, max_age="3600").status_code == 200
    claims = consent_and_exchange(client, request, exchange)
    assert claims["auth_time"] == int(type(signed_in).objects.get(pk=signed_in.pk).last_login.timestamp())


def test_malformed_max_age_is_invalid_request(client, signed_in, demo_client):
    """OIDC Core §3.1.2.1: max_age is a number of seconds."""
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, max_age="soon")["Location"])
    assert (answer["error"], answer["state"]) == ("invalid_request", request.state)


def test_prompt_consent_asks_even_a_preapproved_client(client, signed_in, demo_application, demo_client):
    """OIDC Core §3.1.2.1 prompt=consent: the consent page, even where it would be skipped."""
    demo_application.skip_authorization = True
    demo_application.save()
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request).status_code == 302
    response = authorize_with(client, request, prompt="consent")
    assert response.status_code == 200
    assert b'name="allow"' in response.content


# OpenID Connect Core: nonce and the ID token


def test_nonce_is_in_the_id_token(authorize, exchange, client):
    """OIDC Core §3.1.2.1 and §2: a nonce sent is returned unmodified in the ID token."""
    request, code = authorize()
    assert verify_id_token(client, exchange(request, code).json()["id_token"])["nonce"] == request.nonce


def test_without_a_nonce_the_id_token_has_none(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1: nonce is optional for the code flow."""
    request = AuthorizationRequest(demo_client.client_id)
    request.nonce = ""
    params = {key: value for key, value in request.params.items() if key != "nonce"}
    code = query_of(client.post(request.url, {**params, "allow": "Authorize"})["Location"])["code"]
    assert "nonce" not in verify_id_token(client, exchange(request, code).json()["id_token"])


def test_a_nonce_is_not_processed_beyond_being_returned(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1: the server performs no other processing on nonce (replay checks are the RP's)."""
    nonces = []
    for _ in range(2):
        request = AuthorizationRequest(demo_client.client_id)
        request.nonce = "the same nonce"
        nonces.append(consent_and_exchange(client, request, exchange)["nonce"])
    assert nonces == ["the same nonce", "the same nonce"]


def test_id_token_has_the_required_claims(authorize, exchange, client, demo_client, user):
    """OIDC Core §2 and §3.1.3.7: iss, sub, aud, exp, iat and auth_time, signed RS256."""
    request, code = authorize()
    claims = verify_id_token(client, exchange(request, code).json()["id_token"])
    assert claims["iss"] == ISSUER
    assert claims["sub"] == str(user.pk)
    assert claims["aud"] == demo_client.client_id
    assert claims["iat"] <= claims["exp"]
    assert claims["exp"] > timezone.now().timestamp()
    assert claims["auth_time"] <= claims["iat"]


# Token endpoint: RFC 6749 §4.1.2-4.1.3, §5, §6; RFC 7636


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


def test_refresh_cannot_widen_the_scope(authorize, exchange, client, demo_client):
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
    assert wider.json()["error"] == "invalid_scope"
    narrower = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=refresh_token, scope="read"
    )
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "read"


# UserInfo: OpenID Connect Core §5.3


def test_userinfo_without_a_token_challenges(client):
    """OIDC Core §5.3.3 with RFC 6750 §3: 401 and a Bearer challenge."""
    response = client.get("/o/userinfo/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_sub_is_the_id_token_sub(authorize, exchange, client):
    """OIDC Core §5.3.2: the UserInfo sub matches the ID token's."""
    request, code = authorize()
    tokens = exchange(request, code).json()
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert userinfo["sub"] == verify_id_token(client, tokens["id_token"])["sub"]


# Revocation: RFC 7009


def revoke(client, credentials, **data):
    return client.post("/o/revoke_token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


def test_revoking_an_unknown_token_is_200(client, demo_client):
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    assert revoke(client, demo_client, token="no-such-token").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(authorize, exchange, client, m2m_client):
    """RFC 7009 §2.1: only the client a token was issued to may revoke it."""
    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert revoke(client, m2m_client, token=access_token).status_code == 200
    assert api_me_status(client, access_token) == 200


def test_revoking_a_refresh_token_revokes_its_access_token(authorize, exchange, client, demo_client):
    """RFC 7009 §2.1: revoking a refresh token invalidates the access tokens of the same grant."""
    request, code = authorize()
    tokens = exchange(request, code).json()
    assert (
        revoke(
            client, demo_client, token=tokens["refresh_token"], token_type_hint="refresh_token"
        ).status_code
        == 200
    )
    assert api_me_status(client, tokens["access_token"]) == 401


def test_a_wrong_token_type_hint_still_revokes(authorize, exchange, client, demo_client):
    """RFC 7009 §2.1: the server searches every token type when the hint is wrong."""
    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert revoke(client, demo_client, token=access_token, token_type_hint="refresh_token").status_code == 200
    assert api_me_status(client, access_token) == 401


def test_revocation_without_client_authentication_is_401(client, seeded):
    """RFC 7009 §2.1 with RFC 6749 §5.2: invalid_client, 401, a Basic challenge."""
    response = client.post("/o/revoke_token/", {"token": "anything"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")


# Introspection: RFC 7662


def test_introspection_with_bad_client_credentials_is_401(client, m2m_client):
    """RFC 7662 §2.3: 401 as RFC 6749 §5.2 says (DOT answers a bare 403)."""
    for credentials in (Credentials(m2m_client.client_id, "wrong"), None):
        headers = {"HTTP_AUTHORIZATION": credentials.basic_auth} if credentials else {}
        response = client.post("/o/introspect/", {"token": "anything"}, **headers)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
        assert response["WWW-Authenticate"].startswith("Basic ")


def test_introspection_with_a_bearer_token_lacking_the_scope_is_403(client, m2m_client):
    """RFC 7662 §2.3 with RFC 6750 §3.1: insufficient_scope."""
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_introspecting_an_unknown_token_says_inactive(client, m2m_client):
    """RFC 7662 §2.2: only {"active": false} for a token the server does not know."""
    response = client.post(
        "/o/introspect/", {"token": "no-such-token"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspection_takes_post_only(client, m2m_client):
    """RFC 7662 §2.1: POST, so that tokens stay out of URLs and logs."""
    response = client.get("/o/introspect/", {"token": "anything"}, HTTP_AUTHORIZATION=m2m_client.basic_auth)
    assert response.status_code == 405


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


def test_consent_form_is_protected_against_csrf(user, demo_client):
    """RFC 6749 §10.12: the authorization endpoint's form needs the page's CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    assert browser.post(request.url, {**request.params, "allow": "Authorize"}).status_code == 403
    assert not get_grant_model().objects.exists()


# RP-Initiated Logout 1.0


def test_logout_with_an_unknown_client_is_an_error_page(client, signed_in):
    """RP-Initiated Logout 1.0 §4: a request that does not validate is refused, not followed (DOT: 500)."""
    response = client.get(
        "/o/logout/", {"client_id": "no-such-client", "post_logout_redirect_uri": DEMO_REDIRECT_URI}
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert client.get("/").context["user"].is_authenticated
