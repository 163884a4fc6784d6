"""
The authorization endpoint: RFC 6749 §3.1 and §4.1.1-4.1.2.1, RFC 7636, RFC 9207, RFC 9700,
OpenID Connect Core §3.1.2 (prompt, max_age). Code: authserver/endpoints/authorization.py.
"""

import base64
import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from .support import (
    DEMO_REDIRECT_URI,
    ISSUER,
    PASSWORD,
    REAUTHENTICATE,
    AuthorizationRequest,
    assert_error_sent_to_the_client,
    authorize_with,
    consent_and_exchange,
    query_of,
    sign_in_again,
    sign_in_through_the_form,
    signed_in_long_ago,
    token_request,
    verify_id_token,
)

pytestmark = pytest.mark.django_db

# The consent form's Deny button: the form's fields, without `allow`.
DENY = {"consent_form": "1"}


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
    assert claims["sub"] == str(user.sub)
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


def test_denying_consent_redirects_with_access_denied(client, user, demo_client):
    # RFC 6749 §4.1.2.1: access_denied, with the state, at the redirect URI.
    client.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    response = client.post(request.url, {**request.params, **DENY})
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


def assert_invalid_request_sent_to_the_client(response, request, parameter):
    """RFC 6749 §4.1.2.1: invalid_request at the redirect URI, with the state, naming the parameter."""
    assert response.status_code == 302
    assert response["Location"].startswith(request.redirect_uri)
    answer = query_of(response["Location"])
    assert (answer["error"], answer["state"], answer["iss"]) == ("invalid_request", request.state, ISSUER)
    assert parameter in answer["error_description"]


@pytest.mark.parametrize(
    "challenge", ["x", "a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "+", "a" * 42 + "."]
)
def test_malformed_code_challenge_is_refused_before_consent(client, signed_in, demo_client, challenge):
    """RFC 7636 §4.2: an S256 challenge is 43 base64url characters; §4.4.1: else invalid_request."""
    request = AuthorizationRequest(demo_client.client_id)
    request.code_challenge = challenge
    assert_invalid_request_sent_to_the_client(authorize_with(client, request), request, "code_challenge")


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
    assert_error_sent_to_the_client(
        client.post(request.url, {**request.params, **DENY}), request, "access_denied"
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("scope", "read " * 205),
        ("nonce", "n" * 256),
        ("claims", '{"userinfo": {"email": null, "x": "' + "x" * 4096 + '"}}'),
        ("resource", ["https://api.example.com/"] * 11),
        ("resource", "https://api.example.com/" + "x" * 2048),
    ],
)
def test_oversized_parameters_are_invalid_request(client, signed_in, demo_client, name, value):
    """Every stored parameter has a bound (authserver/parameters.py, PARAMETER_LIMITS) a real client never
    reaches: beyond it, invalid_request at the redirect URI (RFC 6749 §4.1.2.1), and no code."""
    request = AuthorizationRequest(demo_client.client_id)
    response = client.get("/o/authorize/", {**request.params, name: value})
    assert_invalid_request_sent_to_the_client(response, request, name)
    assert not get_grant_model().objects.exists()


def test_oversized_state_is_invalid_request_without_the_state(client, signed_in, demo_client):
    """The one parameter that is sent back: not when it is too long to be a client's."""
    request = AuthorizationRequest(demo_client.client_id)
    response = client.get("/o/authorize/", {**request.params, "state": "s" * 2049})
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert (answer["error"], answer["iss"], "state" in answer) == ("invalid_request", ISSUER, False)


def test_parameters_at_their_bounds_are_accepted_and_scopes_stored_once(client, signed_in, demo_client):
    request = AuthorizationRequest(demo_client.client_id, scope="openid read openid read")
    request.state, request.nonce = "s" * 2048, "n" * 255
    resources = {"resource": ["https://api.example.com/"] * 10}
    assert client.get("/o/authorize/", {**request.params, **resources}).status_code == 200
    answer = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert query_of(answer["Location"])["state"] == request.state
    grant = get_grant_model().objects.get()
    assert (grant.nonce, grant.scope) == (request.nonce, "openid read")


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
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url}
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
    signed_in_long_ago(client, signed_in, timezone.now() - timedelta(hours=1))
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, prompt="none", max_age="60")["Location"])
    assert answer["error"] == "login_required"


def test_prompt_none_with_another_value_is_invalid_request(client, signed_in, demo_client):
    """OIDC Core §3.1.2.1: none with any other value is an error."""
    request = AuthorizationRequest(demo_client.client_id)
    answer = query_of(authorize_with(client, request, prompt="none login")["Location"])
    assert answer["error"] == "invalid_request"


def test_prompt_login_asks_a_signed_in_user_to_sign_in_again(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1 prompt=login, and §2 auth_time: the ID token tells when that sign-in was."""
    long_ago = timezone.now() - timedelta(hours=1)
    signed_in_long_ago(client, signed_in, long_ago)
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, prompt="login")
    assert response.status_code == 302
    assert response["Location"].startswith(REAUTHENTICATE)
    next_url = sign_in_again(client, signed_in, response["Location"])
    assert "prompt" not in query_of(next_url)
    assert client.get(next_url).status_code == 200
    claims = consent_and_exchange(client, request, exchange)
    assert claims["auth_time"] > long_ago.timestamp() + 60


def test_max_age_older_than_the_sign_in_asks_to_sign_in_again(client, signed_in, demo_client, exchange):
    """OIDC Core §3.1.2.1 max_age: an older sign-in forces a new one; auth_time then satisfies it."""
    signed_in_long_ago(client, signed_in, timezone.now() - timedelta(hours=1))
    request = AuthorizationRequest(demo_client.client_id)
    response = authorize_with(client, request, max_age="60")
    assert response["Location"].startswith(REAUTHENTICATE)
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


def test_consent_form_is_protected_against_csrf(user, demo_client):
    """RFC 6749 §10.12: the authorization endpoint's form needs the page's CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    request = AuthorizationRequest(demo_client.client_id)
    assert browser.post(request.url, {**request.params, "allow": "Authorize"}).status_code == 403
    assert not get_grant_model().objects.exists()


# Authorization requests by POST: OIDC Core §3.1.2.1


def consent_form_answer(consent_page, **answer):
    """What the consent page's form sends: its hidden fields, its CSRF token, the button pressed."""
    form = consent_page.context["form"]
    fields = {name: value for name, value in form.initial.items() if value is not None}
    return {**fields, **DENY, "csrfmiddlewaretoken": consent_page.context["csrf_token"], **answer}


def test_authorization_request_by_post_signs_in_then_asks_for_consent(user, demo_client, exchange):
    """OIDC Core §3.1.2.1: the endpoint takes the request form-encoded in a POST from the client's
    page, which has no CSRF token of ours; the consent form's answer still needs one."""
    browser = Client(enforce_csrf_checks=True)
    request = AuthorizationRequest(demo_client.client_id)
    response = browser.post("/o/authorize/", request.params)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert query_of(query_of(response["Location"])["next"]) == request.params
    sign_in_through_the_form(browser, user)
    consent_page = browser.post("/o/authorize/", request.params)
    assert consent_page.status_code == 200
    assert b'name="allow"' in consent_page.content
    assert consent_page.context["form"].initial["state"] == request.state
    forged = consent_form_answer(consent_page, allow="Authorize", csrfmiddlewaretoken="forged")
    assert browser.post("/o/authorize/", forged).status_code == 403
    assert (
        browser.post(
            "/o/authorize/", {**consent_form_answer(consent_page), "csrfmiddlewaretoken": ""}
        ).status_code
        == 403
    )
    assert not get_grant_model().objects.exists()
    answer = browser.post("/o/authorize/", consent_form_answer(consent_page, allow="Authorize"))
    assert answer.status_code == 302
    code = query_of(answer["Location"])
    assert (code["state"], code["iss"]) == (request.state, ISSUER)
    claims = verify_id_token(browser, exchange(request, code["code"]).json()["id_token"])
    assert claims["nonce"] == request.nonce


def test_authorization_request_by_post_gets_the_answers_of_a_get(user, demo_client):
    """OIDC Core §3.1.2.1, §3.1.2.6: prompt, max_age and the errors, as for a GET."""
    browser = Client(enforce_csrf_checks=True)
    request = AuthorizationRequest(demo_client.client_id)
    assert_error_sent_to_the_client(
        browser.post("/o/authorize/", {**request.params, "prompt": "none"}), request, "login_required"
    )
    sign_in_through_the_form(browser, user)
    wrong_scope = AuthorizationRequest(demo_client.client_id, scope="openid no-such-scope")
    assert_error_sent_to_the_client(
        browser.post("/o/authorize/", wrong_scope.params), wrong_scope, "invalid_scope"
    )
    elsewhere = AuthorizationRequest(demo_client.client_id, redirect_uri="https://evil.example/cb")
    response = browser.post("/o/authorize/", elsewhere.params)
    assert response.status_code == 400
    assert "Location" not in response
    assert_error_sent_to_the_client(
        browser.post("/o/authorize/", {**request.params, "prompt": "none"}), request, "consent_required"
    )
    response = browser.post("/o/authorize/", {**request.params, "prompt": "login"})
    assert response["Location"].startswith(REAUTHENTICATE)
    signed_in_long_ago(browser, user, timezone.now() - timedelta(hours=1))
    response = browser.post("/o/authorize/", {**request.params, "max_age": "60"})
    assert response["Location"].startswith(REAUTHENTICATE)
    assert not get_grant_model().objects.exists()


# Request objects: OIDC Core §6


@pytest.mark.parametrize(
    ("parameter", "error"),
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
def test_request_objects_are_refused_at_the_redirect_uri(client, user, demo_client, parameter, error):
    """OIDC Core §6.1, §6.2, §3.1.2.6: not supported, said at the redirect URI (never ignored),
    even before signing in; an unregistered redirect URI is still never followed."""
    request = AuthorizationRequest(demo_client.client_id)
    value = (
        "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9." if parameter == "request" else "https://rp.example/r"
    )
    for signed_in in (False, True):
        if signed_in:
            client.force_login(user)
        for response in (
            client.get("/o/authorize/", {**request.params, parameter: value}),
            client.post("/o/authorize/", {**request.params, parameter: value}),
        ):
            assert response.status_code == 302
            assert response["Location"].startswith(request.redirect_uri)
            answer = query_of(response["Location"])
            assert (answer["error"], answer["state"], answer["iss"]) == (error, request.state, ISSUER)
    elsewhere = AuthorizationRequest(demo_client.client_id, redirect_uri="https://evil.example/cb")
    response = client.get("/o/authorize/", {**elsewhere.params, parameter: value})
    assert response.status_code == 400
    assert "Location" not in response
    assert not get_grant_model().objects.exists()


# Remembered consent: OIDC Core §3.1.2.1, §3.1.2.4


@pytest.fixture
def remembering_client(demo_application):
    """The demo client, set to remember consent (the seeded one always asks)."""
    demo_application.always_ask_consent = False
    demo_application.save()
    return demo_application


def allow(client, scope, client_id):
    request = AuthorizationRequest(client_id, scope=scope)
    assert authorize_with(client, request).status_code == 200
    response = client.post(request.url, {**request.params, "allow": "Authorize", **DENY})
    return request, query_of(response["Location"])["code"]


def test_a_remembered_consent_is_not_asked_again_for_the_same_or_fewer_scopes(
    client, signed_in, demo_client, remembering_client
):
    allow(client, "openid profile read", demo_client.client_id)
    for scope in ("openid profile read", "openid read"):
        request = AuthorizationRequest(demo_client.client_id, scope=scope)
        response = authorize_with(client, request)
        assert response.status_code == 302, scope
        assert query_of(response["Location"])["state"] == request.state
        assert query_of(response["Location"])["code"]
    assert (
        authorize_with(client, AuthorizationRequest(demo_client.client_id, scope="openid email")).status_code
        == 200
    )
    assert (
        authorize_with(client, AuthorizationRequest(demo_client.client_id), prompt="consent").status_code
        == 200
    )


def test_prompt_none_for_a_returning_user_answers_with_a_code(
    client, signed_in, demo_client, remembering_client, exchange
):
    """OIDC Core §3.1.2.1: a signed-in user who allowed the client before gets a code, no page;
    also with an id_token_hint that names them."""
    first, code = allow(client, "openid profile email read", demo_client.client_id)
    id_token = exchange(first, code).json()["id_token"]
    for extra in ({}, {"id_token_hint": id_token}):
        request = AuthorizationRequest(demo_client.client_id)
        response = authorize_with(client, request, prompt="none", **extra)
        assert response.status_code == 302
        answer = query_of(response["Location"])
        assert answer["state"] == request.state
        claims = verify_id_token(client, exchange(request, answer["code"]).json()["id_token"])
        assert claims["sub"] == str(signed_in.sub)


def test_an_id_token_hint_for_another_user_never_gets_a_code(
    client, signed_in, demo_client, remembering_client, exchange, django_user_model
):
    """OIDC Core §3.1.2.1: an id_token_hint naming another user than the session's is login_required;
    one this server did not sign is invalid_request."""
    first, code = allow(client, "openid profile email read", demo_client.client_id)
    alice_id_token = exchange(first, code).json()["id_token"]
    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    client.force_login(bob)
    allow(client, "openid profile email read", demo_client.client_id)
    codes_before = get_grant_model().objects.count()
    for prompt in ({"prompt": "none"}, {}):
        request = AuthorizationRequest(demo_client.client_id)
        response = authorize_with(client, request, id_token_hint=alice_id_token, **prompt)
        answer = query_of(response["Location"])
        assert (answer["error"], answer["state"]) == ("login_required", request.state)
        forged = alice_id_token[:-4] + ("AAAA" if not alice_id_token.endswith("AAAA") else "BBBB")
        answer = query_of(authorize_with(client, request, id_token_hint=forged, **prompt)["Location"])
        assert answer["error"] == "invalid_request"
    assert get_grant_model().objects.count() == codes_before


def test_a_client_set_to_always_ask_asks_every_time(client, signed_in, demo_client, demo_application):
    """Application.always_ask_consent (the seeded demo client's setting): consent is never remembered."""
    assert demo_application.always_ask_consent
    allow(client, "openid read", demo_client.client_id)
    request = AuthorizationRequest(demo_client.client_id, scope="openid read")
    assert authorize_with(client, request).status_code == 200
    assert_error_sent_to_the_client(
        authorize_with(client, request, prompt="none"), request, "consent_required"
    )


# auth_time: OIDC Core §2, §12.2


def test_another_devices_sign_in_does_not_make_this_session_fresh(client, signed_in, demo_client, exchange):
    """OIDC Core §2: auth_time is when this session signed in; max_age is measured from it, and
    another device signing in (which moves last_login) changes neither."""
    long_ago = timezone.now() - timedelta(hours=1)
    signed_in_long_ago(client, signed_in, long_ago)
    other_device = Client()
    login = other_device.post("/accounts/login/", {"login": signed_in.username, "password": PASSWORD})
    assert login.status_code == 302
    last_login = type(signed_in).objects.get(pk=signed_in.pk).last_login
    assert last_login > long_ago + timedelta(minutes=59)
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request, max_age="60")["Location"].startswith(REAUTHENTICATE)
    assert_error_sent_to_the_client(
        authorize_with(client, request, prompt="none", max_age="60"), request, "login_required"
    )
    assert authorize_with(client, request).status_code == 200
    claims = consent_and_exchange(client, request, exchange)
    assert claims["auth_time"] == int(long_ago.timestamp())


def test_refresh_issued_id_tokens_carry_the_same_auth_time(client, signed_in, demo_client, exchange):
    """OIDC Core §12.2: an ID token from a refresh has the auth_time of the original sign-in."""
    long_ago = timezone.now() - timedelta(hours=1)
    signed_in_long_ago(client, signed_in, long_ago)
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request).status_code == 200
    code = query_of(client.post(request.url, {**request.params, "allow": "Authorize"})["Location"])["code"]
    tokens = exchange(request, code).json()
    Client().force_login(signed_in)
    for _rotation in range(2):
        tokens = token_request(
            client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        ).json()
        claims = verify_id_token(client, tokens["id_token"])
        assert claims["auth_time"] == int(long_ago.timestamp())
