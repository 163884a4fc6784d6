"""
ID tokens and their claims: OpenID Connect Core §2, §3.1.3.7, §5. Code: authserver/adapter.py,
authserver/claims.py, authserver/validator.py.
"""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from .support import (
    ISSUER,
    PASSWORD,
    AuthorizationRequest,
    consent_and_exchange,
    query_of,
    verify_id_token,
)

pytestmark = pytest.mark.django_db


def test_claims_follow_the_granted_scopes(client, authorize, exchange):
    request, code = authorize(scope="openid read")
    claims = verify_id_token(client, exchange(request, code).json()["id_token"])
    assert "email" not in claims
    assert "name" not in claims


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
    assert claims["sub"] == str(user.sub)
    assert claims["aud"] == demo_client.client_id
    assert claims["iat"] <= claims["exp"]
    assert claims["exp"] > timezone.now().timestamp()
    assert claims["auth_time"] <= claims["iat"]


def test_sub_is_opaque_and_stable(authorize, exchange, client, user, django_user_model):
    """OIDC Core §2, §17.3: sub is never reassigned, and tells nothing of other users (not the row's id)."""
    subs = [verify_id_token(client, exchange(*authorize()).json()["id_token"])["sub"] for _ in range(2)]
    assert subs == [str(user.sub)] * 2
    assert subs[0] != str(user.pk) and str(uuid.UUID(subs[0])) == subs[0]
    other = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    assert other.sub != user.sub


@pytest.mark.django_db(transaction=True)
def test_existing_users_get_a_subject_identifier_of_their_own(django_user_model):
    # A field default would give every existing row the same value: the migration gives each its own.
    before = MigrationExecutor(connection)
    before_sub = [("users", "0002_user_updated_at")]
    before.migrate(before_sub)
    historical = before.loader.project_state(before_sub).apps.get_model("users", "User")
    for username in ("bob", "carol"):
        historical.objects.create(username=username)
    after = MigrationExecutor(connection)
    after.migrate(after.loader.graph.leaf_nodes())
    subs = set(django_user_model.objects.filter(username__in=["bob", "carol"]).values_list("sub", flat=True))
    assert len(subs) == 2 and None not in subs
