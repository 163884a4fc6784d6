"""
What the ID token says about the authentication: amr (RFC 8176), acr and auth_time (OpenID Connect
Core §2), acr_values and an essential acr (§3.1.2.1, §5.5.1.1), and Application.requires_multi_factor.
Sessions are signed in through allauth's own pages; TOTP codes are computed with allauth's TOTP
functions, WebAuthn answered by tests/webauthn_authenticator.py. Code:
authserver/authentication_context.py, authserver/endpoints/authorization.py, authserver/validator.py.
"""

import json
import time
from datetime import timedelta
from html import escape
from urllib.parse import urlencode

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.checks import run_checks
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from .support import (
    ISSUER,
    PASSWORD,
    AuthenticatorApp,
    AuthorizationRequest,
    enter_user_code,
    poll_for_device_token,
    query_of,
    start_device_flow,
    token_request,
    verify_id_token,
)
from .webauthn_authenticator import SoftwareAuthenticator

pytestmark = pytest.mark.django_db

SINGLE_FACTOR, MULTI_FACTOR = "single-factor", "multi-factor"
MFA_REAUTHENTICATE = "/accounts/2fa/reauthenticate/"


def enrol_totp(user):
    """An authenticator app enrolled for the user (allauth's own activation)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return AuthenticatorApp(secret)


def sign_in(client, user, next_url="/", code=None):
    """Sign in on allauth's login page, with a second factor on its MFA page when `code` is given."""
    response = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302, response.content
    if code is not None:
        assert response["Location"] == "/accounts/2fa/authenticate/"
        response = client.post(response["Location"], {"code": code})
        assert response.status_code == 302, response.content
    assert response["Location"] == next_url
    return response


def url_of(request, **extra):
    """The authorization request's URL with more parameters (acr_values, claims, prompt...)."""
    return f"{request.url}&{urlencode(extra)}"


def consent(client, request, path=None):
    """Allow on the consent page of the authorization request (at `path`), its form as the page
    filled it in; return the code."""
    page = client.get(path or request.url)
    assert page.status_code == 200, "the consent page"
    fields = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    response = client.post(path or request.url, {**fields, "consent_form": "1", "allow": "Authorize"})
    assert response.status_code == 302, response.content
    return query_of(response["Location"])["code"]


def assert_refused(response, request, error):
    """RFC 6749 §4.1.2.1, RFC 9207: the error at the client's redirect URI, with its state and iss."""
    assert response.status_code == 302 and response["Location"].startswith(request.redirect_uri)
    answer = query_of(response["Location"])
    assert (answer["error"], answer["state"], answer["iss"]) == (error, request.state, ISSUER)
    assert "code" not in answer


def id_token_claims(client, exchange, request, code):
    return verify_id_token(client, exchange(request, code).json()["id_token"])


def step_up(client, response, app, back_to="/o/authorize/?"):
    """allauth's MFA reauthentication, where the server sent the user; return where it sends them back."""
    assert response.status_code == 302
    assert response["Location"].startswith(f"{MFA_REAUTHENTICATE}?next=")
    assert client.get(response["Location"]).status_code == 200
    back = client.post(response["Location"], {"code": app.code()})
    assert back.status_code == 302, back.content
    assert back["Location"].startswith(back_to)
    return back["Location"]


# amr and auth_time: RFC 8176, OIDC Core §2


def test_a_password_sign_in_is_pwd_at_the_single_factor_level(client, user, demo_client, exchange):
    request = AuthorizationRequest(demo_client.client_id)
    before = int(time.time())
    sign_in(client, user, request.url)
    claims = id_token_claims(client, exchange, request, consent(client, request))
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == SINGLE_FACTOR
    assert before <= claims["auth_time"] <= claims["iat"]


def test_a_totp_code_at_sign_in_adds_otp_and_mfa(client, user, demo_client, exchange):
    app = enrol_totp(user)
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user, request.url, code=app.code())
    claims = id_token_claims(client, exchange, request, consent(client, request))
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR


def test_a_recovery_code_at_sign_in_is_otp_too(client, user, demo_client, exchange):
    enrol_totp(user)
    recovery_code = RecoveryCodes.activate(user).get_unused_codes()[0]
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user, request.url, code=recovery_code)
    claims = id_token_claims(client, exchange, request, consent(client, request))
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR


def test_refresh_issued_id_tokens_keep_the_original_authentication(client, user, demo_client, exchange):
    """OIDC Core §12.2: the same auth_time, and here the same amr and acr, after each rotation."""
    app = enrol_totp(user)
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user, request.url, code=app.code())
    tokens = exchange(request, consent(client, request)).json()
    original = verify_id_token(client, tokens["id_token"])
    # The session signs out: the refresh tokens keep what the sign-in was.
    client.post("/accounts/logout/")
    for _rotation in range(2):
        tokens = token_request(
            client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        ).json()
        claims = verify_id_token(client, tokens["id_token"])
        assert (claims["amr"], claims["acr"], claims["auth_time"]) == (
            original["amr"],
            original["acr"],
            original["auth_time"],
        )


# WebAuthn: a security key as second factor, a passkey alone

# WebAuthn needs a secure origin: http://localhost is one (W3C WebAuthn §5.1.3, fido2's check).
WEBAUTHN_ORIGIN = "http://localhost"


@pytest.fixture
def browser():
    return Client(headers={"host": "localhost"})


def enrol_security_key(browser, user, passwordless=False):
    """Add a WebAuthn key on allauth's page (which asks for the password again first)."""
    add = "/accounts/2fa/webauthn/add/"
    assert browser.post("/accounts/reauthenticate/", {"password": PASSWORD, "next": add})["Location"] == add
    key = SoftwareAuthenticator(WEBAUTHN_ORIGIN)
    credential = key.create(browser.get(add).context["js_data"]["creation_options"])
    fields = {
        "name": "test key",
        "credential": credential,
        **({"passwordless": "on"} if passwordless else {}),
    }
    assert browser.post(add, fields).status_code == 302
    return key


def test_a_security_key_at_sign_in_adds_hwk_user_and_mfa(browser, user, demo_client, exchange):
    sign_in(browser, user)
    key = enrol_security_key(browser, user)
    browser.post("/accounts/logout/")
    request = AuthorizationRequest(demo_client.client_id)
    response = browser.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url}
    )
    mfa_page = browser.get(response["Location"])
    answer = key.get(mfa_page.context["js_data"]["request_options"])
    assert browser.post(response["Location"], {"credential": answer})["Location"] == request.url
    claims = id_token_claims(browser, exchange, request, consent(browser, request))
    assert claims["amr"] == ["hwk", "mfa", "pwd", "user"]
    assert claims["acr"] == MULTI_FACTOR


def test_a_passkey_sign_in_is_multi_factor_without_a_password(browser, user, demo_client, exchange):
    """A passkey sign-in needs the authenticator's user verification (allauth asks for it, fido2
    checks the flag): the key and a PIN or biometric, two factors, neither of them `pwd`."""
    sign_in(browser, user)
    key = enrol_security_key(browser, user, passwordless=True)
    browser.post("/accounts/logout/")
    login = "/accounts/2fa/webauthn/login/"
    options = browser.get(login, HTTP_X_REQUESTED_WITH="XMLHttpRequest").json()["request_options"]
    assert options["publicKey"]["userVerification"] == "required"
    assert browser.post(login, {"credential": key.get(options)}).status_code == 302
    request = AuthorizationRequest(demo_client.client_id)
    claims = id_token_claims(browser, exchange, request, consent(browser, request))
    assert claims["amr"] == ["hwk", "mfa", "user"]
    assert claims["acr"] == MULTI_FACTOR


def test_a_user_with_a_security_key_only_steps_up_with_it(browser, user, demo_client, exchange):
    sign_in(browser, user)
    key = enrol_security_key(browser, user)
    # Only the key: allauth's code page would not do, so its WebAuthn page.
    request = AuthorizationRequest(demo_client.client_id)
    response = browser.get(url_of(request, acr_values=MULTI_FACTOR))
    reauthenticate = "/accounts/2fa/webauthn/reauthenticate/"
    assert response["Location"].startswith(f"{reauthenticate}?next=")
    options = browser.get(response["Location"]).context["js_data"]["request_options"]
    back = browser.post(response["Location"], {"credential": key.get(options)})["Location"]
    assert back == url_of(request, acr_values=MULTI_FACTOR)
    claims = id_token_claims(browser, exchange, request, consent(browser, request, back))
    assert claims["amr"] == ["hwk", "mfa", "pwd", "user"]
    assert claims["acr"] == MULTI_FACTOR


# acr_values: OIDC Core §3.1.2.1


def test_asking_for_multi_factor_steps_a_password_session_up(client, user, demo_client, exchange):
    """A user with a second factor, signed in with a password only (enrolled since), gives the
    second factor on allauth's page and comes back to the authorization request."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    app = enrol_totp(user)
    signed_in_at = int(time.time())
    back = step_up(client, client.get(url_of(request, acr_values=MULTI_FACTOR)), app)
    assert back == url_of(request, acr_values=MULTI_FACTOR), "back to the same authorization request"
    claims = id_token_claims(client, exchange, request, consent(client, request, back))
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR
    # OIDC Core §2: auth_time is the latest authentication, the second factor's.
    assert claims["auth_time"] >= signed_in_at


def test_asking_for_multi_factor_without_a_second_factor_gets_the_level_achieved(
    client, user, demo_client, exchange
):
    """§3.1.2.1: acr_values is a voluntary request; the ID token says what the session reached."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    code = consent(client, request, url_of(request, acr_values=MULTI_FACTOR))
    claims = id_token_claims(client, exchange, request, code)
    assert claims["acr"] == SINGLE_FACTOR
    assert claims["amr"] == ["pwd"]


def test_a_multi_factor_session_needs_no_step_up(client, user, demo_client, exchange):
    app = enrol_totp(user)
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user, code=app.code())
    code = consent(client, request, url_of(request, acr_values=MULTI_FACTOR))
    assert id_token_claims(client, exchange, request, code)["acr"] == MULTI_FACTOR


def test_the_most_preferred_level_met_is_not_stepped_up(client, user, demo_client, exchange):
    """§3.1.2.1: acr_values in order of preference; single-factor first is met by a password."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    enrol_totp(user)
    code = consent(client, request, url_of(request, acr_values=f"{SINGLE_FACTOR} {MULTI_FACTOR}"))
    assert id_token_claims(client, exchange, request, code)["acr"] == SINGLE_FACTOR


def test_unknown_acr_values_are_ignored(client, user, demo_client, exchange):
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    code = consent(client, request, url_of(request, acr_values="urn:example:loa:4"))
    assert id_token_claims(client, exchange, request, code)["acr"] == SINGLE_FACTOR


def test_prompt_none_where_a_second_factor_is_needed_is_interaction_required(client, user, demo_client):
    """§3.1.2.6: the second factor needs a page, which prompt=none forbids."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    enrol_totp(user)
    response = client.get(url_of(request, acr_values=MULTI_FACTOR, prompt="none"))
    assert_refused(response, request, "interaction_required")


# An essential acr: OIDC Core §5.5.1.1


def essential_acr(*values):
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(values)}}})


def test_an_essential_multi_factor_acr_that_cannot_be_met_is_refused(client, user, demo_client):
    """§5.5.1.1: a failed authentication; OpenID Connect Core Error Code
    unmet_authentication_requirements 1.0 names its error. No code is issued."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    response = client.get(url_of(request, claims=essential_acr(MULTI_FACTOR)))
    assert_refused(response, request, "unmet_authentication_requirements")
    assert not get_grant_model().objects.exists()


def test_an_essential_multi_factor_acr_steps_up_a_user_with_a_second_factor(
    client, user, demo_client, exchange
):
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    app = enrol_totp(user)
    back = step_up(client, client.get(url_of(request, claims=essential_acr(MULTI_FACTOR))), app)
    code = consent(client, request, back)
    assert id_token_claims(client, exchange, request, code)["acr"] == MULTI_FACTOR


def test_an_essential_acr_gets_one_of_its_values(client, user, demo_client, exchange):
    """§5.5.1.1: the acr matches one of the essential values; a multi-factor session meets single-factor."""
    app = enrol_totp(user)
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user, code=app.code())
    code = consent(client, request, url_of(request, claims=essential_acr(SINGLE_FACTOR)))
    claims = id_token_claims(client, exchange, request, code)
    assert claims["acr"] == SINGLE_FACTOR
    assert claims["amr"] == ["mfa", "otp", "pwd"]


def test_an_essential_acr_of_unknown_values_is_refused(client, user, demo_client):
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    response = client.get(url_of(request, claims=essential_acr("urn:example:loa:4")))
    assert_refused(response, request, "unmet_authentication_requirements")


def test_a_malformed_claims_request_in_the_consent_answer_is_invalid_request(client, user, demo_client):
    """The consent form's claims field reaches the acr check before oauthlib's: still §3.1.2.6's error."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    answer = {**request.params, "claims": '{"id_token": ["acr"]}', "consent_form": "1", "allow": "Authorize"}
    assert_refused(client.post(request.url, answer), request, "invalid_request")


# Application.requires_multi_factor


@pytest.fixture
def multi_factor_client(demo_application):
    demo_application.requires_multi_factor = True
    demo_application.save()
    return demo_application


def test_a_client_requiring_multi_factor_asks_a_user_without_one_to_enrol(
    client, user, demo_client, multi_factor_client
):
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    page = client.get(request.url)
    assert page.status_code == 403
    assert page.context["enrol_url"] == "/accounts/2fa/"
    assert page.context["continue_url"].startswith("/o/authorize/?")
    assert query_of(page.context["continue_url"])["state"] == request.state
    assert escape(multi_factor_client.name) in page.content.decode()
    # Not past the consent page either: no code.
    response = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert response.status_code == 403
    assert not get_grant_model().objects.exists()


def test_a_client_requiring_multi_factor_steps_a_password_session_up(
    client, user, demo_client, multi_factor_client, exchange
):
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    app = enrol_totp(user)
    # The consent form's answer, sent without the second factor, is no way round it.
    refused = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert refused["Location"].startswith(f"{MFA_REAUTHENTICATE}?next=")
    assert not get_grant_model().objects.exists()
    back = step_up(client, client.get(request.url), app)
    claims = id_token_claims(client, exchange, request, consent(client, request, back))
    assert claims["acr"] == MULTI_FACTOR
    assert claims["amr"] == ["mfa", "otp", "pwd"]


def test_a_preapproved_client_requiring_multi_factor_issues_no_code_without_it(
    client, user, demo_client, multi_factor_client
):
    """skip_authorization issues the code without the consent page: the check comes first still."""
    multi_factor_client.skip_authorization = True
    multi_factor_client.save()
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    enrol_totp(user)
    assert client.get(request.url)["Location"].startswith(f"{MFA_REAUTHENTICATE}?next=")
    assert not get_grant_model().objects.exists()


def test_other_clients_are_not_affected(client, user, application_model, other_client, multi_factor_client):
    application_model.objects.filter(client_id=other_client.client_id).update(allowed_scopes="openid read")
    request = AuthorizationRequest(other_client.client_id, scope="openid read")
    sign_in(client, user)
    assert client.get(request.url).status_code == 200


def test_a_device_for_a_client_requiring_multi_factor_is_allowed_only_with_it(
    client, user, application_model
):
    """RFC 8628 §3.3: the user allows the device on this server's page, which asks for the second factor first."""
    application_model.objects.create(
        name="Living-room TV",
        client_id="tv-app",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_DEVICE_CODE,
        requires_multi_factor=True,
    )
    codes = start_device_flow(client).json()
    sign_in(client, user)
    confirm = enter_user_code(client, codes["user_code"])["Location"]
    assert client.get(confirm).status_code == 403, "no second factor: enrol first"
    assert client.post(confirm, {"action": "accept"}).status_code == 403
    app = enrol_totp(user)
    refused = client.post(confirm, {"action": "accept"})
    assert refused["Location"].startswith(f"{MFA_REAUTHENTICATE}?next=")
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"
    assert step_up(client, client.get(confirm), app, back_to=confirm) == confirm
    assert client.post(confirm, {"action": "accept"}).status_code == 302
    assert poll_for_device_token(client, codes["device_code"]).status_code == 200


# max_age and prompt=login: OIDC Core §3.1.2.1, from the same record as auth_time


def authenticated_long_ago(client, seconds):
    """Move every authentication allauth recorded for this session `seconds` back."""
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {**record, "at": record["at"] - seconds} for record in records
    ]
    session.save()


def test_a_second_factor_given_since_makes_the_session_fresh_for_max_age(client, user, demo_client, exchange):
    """max_age counts from "the last time the End-User was actively authenticated" (§3.1.2.1)."""
    request = AuthorizationRequest(demo_client.client_id)
    sign_in(client, user)
    app = enrol_totp(user)
    authenticated_long_ago(client, 3600)
    back = step_up(client, client.get(url_of(request, acr_values=MULTI_FACTOR)), app)
    claims = id_token_claims(client, exchange, request, consent(client, request, f"{back}&max_age=60"))
    assert timezone.now().timestamp() - claims["auth_time"] <= 60


# Discovery, the admin, the migration


def test_discovery_lists_the_levels_and_the_claims(client):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["acr_values_supported"] == [SINGLE_FACTOR, MULTI_FACTOR]
    assert {"acr", "amr", "auth_time"} <= set(document["claims_supported"])


def test_the_admin_filters_and_sets_requires_multi_factor(client, django_user_model, demo_application):
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(admin)
    changelist = "/admin/oauth/application/"
    flagged = client.get(changelist, {"requires_multi_factor__exact": "1"})
    assert flagged.status_code == 200
    assert demo_application not in flagged.context["cl"].result_list
    change_form = client.get(f"{changelist}{demo_application.pk}/change/")
    assert 'name="requires_multi_factor"' in change_form.content.decode()
    demo_application.requires_multi_factor = True
    demo_application.save()
    assert (
        demo_application
        in client.get(changelist, {"requires_multi_factor__exact": "1"}).context["cl"].result_list
    )


@pytest.mark.django_db(transaction=True)
def test_sign_in_times_recorded_before_keep_their_auth_time():
    """Migration 0006: each code family's sign-in time becomes its authentication's, without amr or acr."""
    before = [("oauth", "0005_tokengeneration")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    historical = executor.loader.project_state(before).apps.get_model("oauth", "SignInTime")
    signed_in_at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    row = historical.objects.create(
        token_family="5b1f4c52-8d0e-4f57-9a43-0d1c6e2f7a18", signed_in_at=signed_in_at
    )
    after = MigrationExecutor(connection)
    after.migrate(after.loader.graph.leaf_nodes())
    migrated = after.loader.project_state(after.loader.graph.leaf_nodes()).apps.get_model("oauth", "SignIn")
    sign_in = migrated.objects.get(token_family=row.token_family)
    assert (sign_in.authenticated_at, sign_in.methods, sign_in.level) == (signed_in_at, [], "")


def test_a_setting_that_turns_mfa_reauthentication_off_fails_the_system_check(settings):
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["password"]
    assert "oauth.E005" in [message.id for message in run_checks()]
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["password", "mfa"]
    assert "oauth.E005" not in [message.id for message in run_checks()]
