"""The sample API written with Django REST framework (api_framework=drf): its defaults."""

import pytest
from django.conf import settings
from django.test import RequestFactory
from rest_framework.response import Response
from rest_framework.views import APIView

from .support import client_credentials_token

pytestmark = pytest.mark.django_db


class OrdersView(APIView):
    """A view of yours that says nothing but the scope it needs."""

    required_scopes = ["write"]

    def get(self, request):
        return Response({"client_id": request.auth.application.client_id})


def get_orders(token=None):
    headers = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return OrdersView.as_view()(RequestFactory().get("/orders/", **headers))


def test_rest_framework_is_installed():
    assert settings.API_FRAMEWORK == "drf"
    assert "rest_framework" in settings.INSTALLED_APPS


def test_a_signed_in_session_is_no_bearer_token(client, user):
    # DRF's default SessionAuthentication would let a signed-in browser call the API.
    client.force_login(user)
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


# Called without Django's request handler (RequestFactory), a view's error response marks the
# test's own transaction for rollback (encode/django-rest-framework#6921): so each test below
# makes its error request last.
def test_a_view_of_yours_takes_bearer_tokens_by_default():
    response = get_orders()
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_view_of_yours_checks_its_required_scopes_by_default(client, m2m_client):
    write_token = client_credentials_token(client, m2m_client, "write")
    read_token = client_credentials_token(client, m2m_client, "read")
    response = get_orders(write_token)
    assert response.status_code == 200
    assert response.data == {"client_id": m2m_client.client_id}
    assert get_orders(read_token).status_code == 403


def test_a_refusal_at_api_me_leaves_the_open_transaction_alone(client, m2m_client):
    # /api/me/ runs outside the request transaction: DRF must not roll back the test's.
    assert client.get("/api/me/").status_code == 401
    assert client_credentials_token(client, m2m_client, "read")
