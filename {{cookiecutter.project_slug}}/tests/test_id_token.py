"""
ID tokens and their claims: OpenID Connect Core §2, §3.1.3.7, §5. Code: oauth/claims.py, oauth/validator.py.
"""

import pytest
from django.utils import timezone

from .conftest import (
    ISSUER,
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
    assert claims["sub"] == str(user.pk)
    assert claims["aud"] == demo_client.client_id
    assert claims["iat"] <= claims["exp"]
    assert claims["exp"] > timezone.now().timestamp()
    assert claims["auth_time"] <= claims["iat"]
