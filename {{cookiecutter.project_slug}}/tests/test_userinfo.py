"""
The UserInfo endpoint: OpenID Connect Core §5.3. Code: oauth/userinfo.py.
"""

import pytest

from .conftest import (
    verify_id_token,
)

pytestmark = pytest.mark.django_db


def test_userinfo_returns_the_claims_of_the_granted_scopes(client, authorize, exchange, user):
    # OIDC Core §5.3.2 and §5.4: the claims of the granted scopes, and sub.
    request, code = authorize(scope="openid email")
    token = exchange(request, code).json()["access_token"]
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"sub": str(user.pk), "email": "alice@example.com", "email_verified": False}


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
