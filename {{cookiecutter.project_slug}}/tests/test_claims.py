"""
The claims released about a user, in the ID token and at UserInfo, and the claims request
parameter: OpenID Connect Core §5.1, §5.3.2, §5.4, §5.5. Code: authserver/adapter.py (which claims),
authserver/claims.py and authserver/validator.py (how they are released).
"""

import json
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from .support import (
    DEMO_REDIRECT_URI,
    ISSUER,
    PASSWORD,
    AuthorizationRequest,
    authorize_with,
    query_of,
    verify_id_token,
)

pytestmark = pytest.mark.django_db

NAME_CLAIMS = {"name", "given_name", "family_name"}


def assert_error_at_the_redirect_uri(response, request, error):
    """OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1, RFC 9207 §2: the error, the state and iss, to the client."""
    assert response.status_code == 302
    assert response["Location"].startswith(DEMO_REDIRECT_URI + "?")
    answer = query_of(response["Location"])
    assert (answer["error"], answer["state"], answer["iss"]) == (error, request.state, ISSUER)
    assert "code" not in answer


def sign_in_and_get_claims(client, user, demo_client, exchange, scope="openid profile email", claims=None):
    """The code flow as `user`, with that claims request; return (ID token claims, UserInfo claims)."""
    client.force_login(user)
    request = AuthorizationRequest(demo_client.client_id, scope=scope)
    extra = {} if claims is None else {"claims": json.dumps(claims)}
    consent = authorize_with(client, request, **extra)
    assert consent.status_code == 200
    # The consent form carries the claims request on, as a browser would post it.
    answer = {**request.params, "claims": consent.context["form"]["claims"].value(), "allow": "Authorize"}
    code = query_of(client.post(request.url, answer)["Location"])["code"]
    tokens = exchange(request, code).json()
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 200
    return verify_id_token(client, tokens["id_token"]), userinfo.json()


def test_a_user_without_a_name_gets_no_empty_name_claims(client, django_user_model, demo_client, exchange):
    # OIDC Core §5.3.2: an absent claim is omitted, not sent empty; the username is no name.
    nameless = django_user_model.objects.create_user("nameless", "nameless@example.com", PASSWORD)
    for claims in sign_in_and_get_claims(client, nameless, demo_client, exchange):
        assert not NAME_CLAIMS & set(claims)
        assert claims["preferred_username"] == "nameless"


def test_a_user_without_an_email_gets_no_email_claims(client, django_user_model, demo_client, exchange):
    no_email = django_user_model.objects.create_user("no-email", "", PASSWORD, first_name="Ann")
    for claims in sign_in_and_get_claims(client, no_email, demo_client, exchange):
        assert not {"email", "email_verified"} & set(claims)
        assert (claims["name"], claims["given_name"]) == ("Ann", "Ann")
        assert "family_name" not in claims


def test_claims_have_their_standard_types(client, user, demo_client, exchange):
    # OIDC Core §5.1: email_verified a boolean, updated_at a JSON number of seconds; false
    # because no one proved they receive mail at this user's address (allauth's records).
    user.refresh_from_db()
    for claims in sign_in_and_get_claims(client, user, demo_client, exchange):
        assert claims["email_verified"] is False
        assert type(claims["updated_at"]) is int
        assert claims["updated_at"] == int(user.updated_at.timestamp())
        assert (claims["given_name"], claims["family_name"]) == ("Alice", "Liddell")


def test_email_verified_is_what_allauths_records_say(client, user, demo_client, exchange):
    # OIDC Core §5.1, §5.7: true once the user proved the address (a verification or reset link);
    # another address of theirs being verified, or this one's record unverified, is not enough.
    EmailAddress.objects.create(user=user, email="alice.other@example.com", verified=True, primary=False)
    address = EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    for claims in sign_in_and_get_claims(client, user, demo_client, exchange):
        assert claims["email_verified"] is False
    address.verified = True
    address.save()
    client.logout()
    for claims in sign_in_and_get_claims(client, user, demo_client, exchange):
        assert (claims["email"], claims["email_verified"]) == ("alice@example.com", True)


def test_updated_at_follows_a_change_of_the_user_not_a_sign_in(client, user):
    user.refresh_from_db()
    first = user.updated_at
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    user.refresh_from_db()
    assert user.last_login is not None
    assert user.updated_at == first
    user.first_name = "Alicia"
    user.save()
    assert user.updated_at > first


@pytest.mark.django_db(transaction=True)
def test_existing_users_get_updated_at_when_it_is_added(django_user_model):
    before = MigrationExecutor(connection)
    before.migrate([("users", "0001_initial")])
    historical_user = before.loader.project_state([("users", "0001_initial")]).apps.get_model("users", "User")
    historical_user.objects.create(username="bob")
    migrated_at = timezone.now()
    after = MigrationExecutor(connection)
    after.migrate(after.loader.graph.leaf_nodes())
    assert django_user_model.objects.get(username="bob").updated_at >= migrated_at


def test_an_id_token_claims_request_is_what_the_id_token_carries(client, user, demo_client, exchange):
    # OIDC Core §5.5: the listed claims are added to the ID token's defaults (§2); UserInfo
    # still answers with every claim of the granted scopes (§5.4).
    asked = {"id_token": {"email": {"essential": True}, "given_name": None}}
    id_token, userinfo = sign_in_and_get_claims(client, user, demo_client, exchange, claims=asked)
    assert {"sub", "email", "given_name"} <= set(id_token)
    assert not {"name", "family_name", "preferred_username", "email_verified", "updated_at"} & set(id_token)
    assert {"name", "family_name", "preferred_username", "email", "email_verified"} <= set(userinfo)


def test_a_userinfo_claims_request_is_answered_at_userinfo(client, user, demo_client, exchange):
    asked = {"userinfo": {"given_name": {"essential": True}, "family_name": None}}
    id_token, userinfo = sign_in_and_get_claims(client, user, demo_client, exchange, claims=asked)
    assert (userinfo["given_name"], userinfo["family_name"]) == ("Alice", "Liddell")
    assert userinfo["preferred_username"] == "alice"
    # Without an id_token member, the ID token keeps its claims of the granted scopes.
    assert id_token["name"] == "Alice Liddell"


def test_a_claims_request_stays_within_the_granted_scopes(client, user, demo_client, exchange):
    asked = {
        "id_token": {"name": {"essential": True}, "email": None},
        "userinfo": {"preferred_username": {"essential": True}, "given_name": None},
    }
    for claims in sign_in_and_get_claims(
        client, user, demo_client, exchange, scope="openid email", claims=asked
    ):
        assert claims["sub"] == str(user.sub)
        assert claims["email"] == "alice@example.com"
        assert not {"name", "preferred_username", "given_name"} & set(claims)


@pytest.mark.parametrize(
    "claims",
    [
        "{not json",
        pytest.param("[" * 5000, id="nested-too-deep-to-parse"),
        '["id_token"]',
        '"id_token"',
        '{"id_token": ["email"]}',
        '{"userinfo": {"email": true}}',
        '{"id_token": {"email": {"essential": "yes"}}}',
        '{"userinfo": {"email": {"values": "a@example.com"}}}',
    ],
)
def test_a_malformed_claims_request_is_invalid_request_at_the_redirect_uri(
    client, signed_in, demo_client, claims
):
    # OIDC Core §3.1.2.6 and §5.5 (oauthlib: no state and no redirect; or any JSON taken).
    request = AuthorizationRequest(demo_client.client_id)
    assert_error_at_the_redirect_uri(
        authorize_with(client, request, claims=claims), request, "invalid_request"
    )
    # The consent form's field is checked again when it comes back.
    answer = client.post(request.url, {**request.params, "claims": claims, "allow": "Authorize"})
    assert_error_at_the_redirect_uri(answer, request, "invalid_request")


def test_an_id_token_for_another_sub_is_refused(client, signed_in, demo_client):
    # OIDC Core §5.5.1: never an ID token for another user than the sub asked for.
    request = AuthorizationRequest(demo_client.client_id)

    def consent_asking_for(sub):
        claims = json.dumps({"id_token": {"sub": {"value": sub}}})
        return client.post(request.url, {**request.params, "claims": claims, "allow": "Authorize"})

    assert_error_at_the_redirect_uri(consent_asking_for(str(uuid.uuid4())), request, "login_required")
    assert "code" in query_of(consent_asking_for(str(signed_in.sub))["Location"])
