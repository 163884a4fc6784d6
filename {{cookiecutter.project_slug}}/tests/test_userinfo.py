"""
The UserInfo endpoint: OpenID Connect Core §5.3. Code: authserver/endpoints/userinfo.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from .support import (
    verify_id_token,
)

pytestmark = pytest.mark.django_db


def test_userinfo_returns_the_claims_of_the_granted_scopes(client, authorize, exchange, user):
    # OIDC Core §5.3.2 and §5.4: the claims of the granted scopes, and sub.
    request, code = authorize(scope="openid email")
    token = exchange(request, code).json()["access_token"]
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"sub": str(user.sub), "email": "alice@example.com", "email_verified": False}


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


def test_token_in_the_query_string_is_refused_at_userinfo(client, authorize, exchange):
    # RFC 9700 §4.3.2, OAuth 2.1 §5.2: never in the URL; RFC 6750 §3.1: a malformed request.
    request, code = authorize()
    token = exchange(request, code).json()["access_token"]
    for method in (client.get, client.post):
        response = method(f"/o/userinfo/?access_token={token}")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert response["WWW-Authenticate"].startswith('Bearer error="invalid_request"')


def test_userinfo_takes_a_token_in_a_form_body_only_as_rfc_6750_allows(client, authorize, exchange, user):
    # OIDC Core §5.3.1: GET or POST; RFC 6750 §2.2: a single-part form-encoded body, by POST.
    request, code = authorize()
    token = exchange(request, code).json()["access_token"]
    form = "application/x-www-form-urlencoded"
    response = client.post("/o/userinfo/", f"access_token={token}", content_type=form)
    assert response.status_code == 200
    assert response.json()["sub"] == str(user.sub)
    multipart = client.post("/o/userinfo/", {"access_token": token})
    twice = client.post(
        "/o/userinfo/", f"access_token={token}", content_type=form, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    for refused in (multipart, twice):
        assert refused.status_code == 400
        assert refused["WWW-Authenticate"].startswith('Bearer error="invalid_request"')


def test_a_token_that_speaks_for_no_user_is_invalid_token_at_userinfo(client, m2m_client, application_model):
    # OIDC Core §5.3.3, RFC 6750 §3.1: a client's own token carrying openid is no user's (DOT: a
    # 500). Client credentials no longer grant openid; one issued before the per-client scopes may.
    AccessToken = get_access_token_model()
    AccessToken.objects.create(
        token="userless-openid-token",
        scope="openid read",
        expires=timezone.now() + timedelta(minutes=5),
        application=application_model.objects.get(client_id=m2m_client.client_id),
    )
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer userless-openid-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
