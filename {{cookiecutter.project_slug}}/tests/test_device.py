"""The device authorization grant (RFC 8628), as oauth/conformance.py completes DOT's."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from oauth2_provider.models import get_device_grant_model

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def make_device_client(application_model):
    def make(client_id="tv-app"):
        return application_model.objects.create(
            name="Living-room TV",
            client_id=client_id,
            client_type=application_model.CLIENT_PUBLIC,
            authorization_grant_type=application_model.GRANT_DEVICE_CODE,
        )

    return make


@pytest.fixture
def device_client(make_device_client):
    return make_device_client()


def start(client, client_id="tv-app", **data):
    # RFC 8628 §3.1: a form-encoded POST (the test client would send multipart).
    body = urlencode({"client_id": client_id, "scope": "read", **data})
    return client.post("/o/device-authorization/", body, content_type="application/x-www-form-urlencoded")


def poll(client, device_code, client_id="tv-app"):
    data = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "client_id": client_id}
    return client.post("/o/token/", data)


def answer(client, user, user_code, action):
    """The user signs in, enters the code on the device page and allows or denies."""
    client.login(username=user.username, password=PASSWORD)
    entered = client.post("/o/device/", {"user_code": user_code})
    assert entered.status_code == 302, entered.content
    assert client.get(entered["Location"]).status_code == 200
    return client.post(entered["Location"], {"action": action})


def test_device_flow_issues_one_token_after_approval(client, device_client, user):
    started = start(client)
    assert started.status_code == 200, started.content
    codes = started.json()
    assert codes["verification_uri"] == "http://testserver/o/device/"
    assert codes["verification_uri_complete"] == f"http://testserver/o/device/?user_code={codes['user_code']}"
    assert poll(client, codes["device_code"]).json()["error"] == "authorization_pending"

    assert answer(client, user, codes["user_code"], "accept").status_code == 302
    token = poll(client, codes["device_code"])
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "read" and "refresh_token" in token.json()
    # RFC 8628 §3.5: the session is over; the code gives no second token.
    assert poll(client, codes["device_code"]).json()["error"] == "expired_token"


def test_denied_device_gets_access_denied(client, device_client, user):
    codes = start(client).json()
    answer(client, user, codes["user_code"], "deny")
    assert poll(client, codes["device_code"]).json()["error"] == "access_denied"


def test_expired_device_code_gets_expired_token(client, device_client):
    codes = start(client).json()
    get_device_grant_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert poll(client, codes["device_code"]).json()["error"] == "expired_token"


def test_a_device_code_only_works_for_its_own_client(client, device_client, make_device_client, user):
    make_device_client("other-app")
    codes = start(client).json()
    answer(client, user, codes["user_code"], "accept")
    stolen = poll(client, codes["device_code"], client_id="other-app")
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    assert poll(client, codes["device_code"]).status_code == 200


@pytest.mark.parametrize(
    ("device_code", "error"), [(None, "invalid_request"), ("no-such-code", "invalid_grant")]
)
def test_bad_device_codes_get_rfc_errors(client, device_client, device_code, error):
    data = {"grant_type": DEVICE_CODE_GRANT, "client_id": "tv-app"}
    if device_code:
        data["device_code"] = device_code
    response = client.post("/o/token/", data)
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_device_authorization_refuses_bad_requests(client, device_client, m2m_client):
    assert start(client, scope="admin").json()["error"] == "invalid_scope"
    m2m = {"client_id": m2m_client.client_id, "client_secret": m2m_client.client_secret}
    assert start(client, **m2m).json()["error"] == "unauthorized_client"
    assert start(client, client_id="nobody").json()["error"] == "invalid_client"
    no_body = client.post("/o/device-authorization/", content_type="")
    assert (no_body.status_code, no_body.json()["error"]) == (400, "invalid_request")
    bad_query = client.post(
        "/o/device-authorization/?%ZZ", "client_id=tv-app", content_type="application/x-www-form-urlencoded"
    )
    assert (bad_query.status_code, bad_query.json()["error"]) == (400, "invalid_request")
    assert not get_device_grant_model().objects.exists()
