"""
The bearer check of /api/me/ and of every protected resource (authserver/server.py
OAuthLibCore.verify_request, DRF's authentication too): oauthlib's request is built from what
the check reads, and every check stays. Each token here is refused by one check alone.
"""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from authserver.server import OAuthLibCore
from authserver.validator import Validator

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
ME = "http://testserver/api/me/"


@pytest.fixture
def m2m_application(m2m_client):
    return get_application_model().objects.get(client_id=m2m_client.client_id)


def stored_token(application, value="a-bearer-token", scope="read", expires_in=300, **fields):
    return AccessToken.objects.create(
        token=value,
        application=application,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=expires_in),
        **fields,
    )


def me(client, value="a-bearer-token"):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {value}")


def refused(response, status=401, error="invalid_token"):
    return response.status_code == status and f'error="{error}"' in response["WWW-Authenticate"]


def test_a_valid_token_is_accepted(client, m2m_application):
    stored_token(m2m_application)
    assert me(client).status_code == 200


def test_an_expired_token_is_refused(client, m2m_application):
    stored_token(m2m_application, expires_in=-1)
    assert refused(me(client))


def test_a_revoked_token_is_refused(client, m2m_application):
    token = stored_token(m2m_application)
    assert me(client).status_code == 200
    token.revoke()
    assert refused(me(client))


def test_a_token_without_the_scope_is_refused(client, m2m_application):
    stored_token(m2m_application, scope="write")
    assert refused(me(client), 403, "insufficient_scope")


def test_a_token_for_another_resource_is_refused(client, m2m_application):
    # RFC 8707: bound to another audience; bound to this one, accepted.
    stored_token(m2m_application, resource=["https://api.example.com/"])
    assert refused(me(client))
    stored_token(m2m_application, value="for-me", resource=[ME])
    assert me(client, "for-me").status_code == 200


def test_a_token_of_a_disabled_client_is_refused(client, m2m_application):
    stored_token(m2m_application)
    assert me(client).status_code == 200
    m2m_application.is_disabled = True
    m2m_application.save()
    assert refused(me(client))


def test_a_token_of_an_inactive_or_deleted_user_is_refused(client, m2m_application, user):
    stored_token(m2m_application, user=user)
    assert me(client).status_code == 200
    user.is_active = False
    user.save()
    assert refused(me(client))
    user.is_active = True
    user.save()
    stored_token(m2m_application, value="of-a-user-deleted-next", user=user)
    user.delete()
    assert refused(me(client, "of-a-user-deleted-next"))


def test_a_token_in_the_form_body_is_read_as_oauthlib_reads_it(m2m_application):
    # RFC 6750 §2.2: in a form-encoded POST body, where the Authorization header has none.
    stored_token(m2m_application)
    request = RequestFactory().post(
        "/api/me/", "access_token=a-bearer-token", content_type="application/x-www-form-urlencoded"
    )
    valid, oauthlib_request = OAuthLibCore().verify_request(request, scopes=["read"])
    assert valid
    assert oauthlib_request.access_token.token == "a-bearer-token"


def test_the_check_reads_only_the_authorization_header(m2m_application):
    # The cost of a bearer check was oauthlib's copy of every header of the request.
    stored_token(m2m_application)
    request = RequestFactory().get(
        "/api/me/", HTTP_AUTHORIZATION="Bearer a-bearer-token", HTTP_USER_AGENT="x", HTTP_COOKIE="a=b"
    )
    valid, oauthlib_request = OAuthLibCore().verify_request(request, scopes=["read"])
    assert valid
    assert dict(oauthlib_request.headers) == {"Authorization": "Bearer a-bearer-token"}
    assert oauthlib_request.uri == ME
    assert (oauthlib_request.client, oauthlib_request.user) == (m2m_application, None)


def test_a_token_in_the_query_string_is_refused_by_the_check_itself(m2m_application):
    stored_token(m2m_application)
    request = RequestFactory().get("/api/me/?access_token=a-bearer-token")
    assert OAuthLibCore().verify_request(request, scopes=["read"]) == (False, None)


def test_userinfo_reads_only_the_authorization_header(client, authorize, exchange, monkeypatch):
    # UserInfo's bearer check, and its claims, from oauthlib's request of that one header.
    seen = []
    claims_of = Validator.get_userinfo_claims

    def recorded(self, request):
        seen.append(dict(request.headers))
        return claims_of(self, request)

    monkeypatch.setattr(Validator, "get_userinfo_claims", recorded)
    request, code = authorize(scope="openid email")
    token = exchange(request, code).json()["access_token"]
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_USER_AGENT="x")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    assert seen == [{"Authorization": f"Bearer {token}"}]
