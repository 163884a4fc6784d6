"""
What clients see while the database or the cache is unavailable: 503 with Retry-After, or a
request that goes on unthrottled, never a 500 (docs/operations.md#when-things-fail).

The cache is a real Redis client pointed at a port nothing listens on. The database is the
test database, every query of which fails while `database_down()` lasts as a dropped connection
does (Django's execute_wrapper, the documented way to intercept queries).
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import path
from oauth2_provider.models import get_application_model

from authserver.endpoints import probes
from authserver.middleware import throttling

from .support import AuthorizationRequest, api_me_status, token_request

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parent.parent


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # Each test sees the first warning of its outage.
    throttling.outage_logged_at.clear()


@contextlib.contextmanager
def database_down():
    def refuse(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        yield


def client_credentials(client, m2m_client):
    return token_request(client, m2m_client, grant_type="client_credentials", scope="read")


def assert_unavailable_json(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert "no-store" in response["Cache-Control"]


def assert_unavailable_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in response.content


def test_the_token_endpoint_answers_503_in_json_while_the_database_is_down(client, m2m_client):
    with database_down():
        assert_unavailable_json(client_credentials(client, m2m_client))
    # The next request finds the database again.
    assert client_credentials(client, m2m_client).status_code == 200


def test_the_api_answers_503_in_json_while_the_database_is_down(client, m2m_client):
    token = client_credentials(client, m2m_client).json()["access_token"]
    with database_down():
        response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_unavailable_json(response)
    assert api_me_status(client, token) == 200


def test_the_authorization_endpoint_answers_a_503_page_and_redirects_nowhere(client, signed_in, demo_client):
    # Without the database the redirect URI cannot be checked (RFC 6749 §4.1.2.1): no redirect.
    request = AuthorizationRequest(demo_client.client_id)
    with database_down():
        response = client.get(request.url)
    assert_unavailable_page(response)
    assert "Location" not in response


def test_a_database_error_in_a_middleware_is_a_503_page_too(user):
    # The device page's throttling reads the signed-in user, before the view: handler500's case.
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    with database_down():
        response = browser.post("/o/device/", {"user_code": "ABCD-EFGH"})
    assert_unavailable_page(response)


def a_bug(request):
    raise RuntimeError("a bug, not an outage")


urlpatterns = [path("bug", a_bug)]
handler500 = "authserver.middleware.outages.server_error"


def test_any_other_error_stays_a_500(settings):
    settings.ROOT_URLCONF = __name__
    assert Client(raise_request_exception=False).get("/bug").status_code == 500


def test_client_authentication_fails_open_while_the_cache_is_down(client, m2m_client, cache_down, caplog):
    assert client_credentials(client, m2m_client).status_code == 200
    for _ in range(3):
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_id": m2m_client.client_id, "client_secret": "wrong"},
        )
        assert response.status_code == 401
    outage_lines = [record for record in caplog.records if "The cache is unavailable" in record.getMessage()]
    policies = [record.getMessage().split(": ", 2)[-1] for record in outage_lines]
    # Once per interval and use: checking a client, counting its failures.
    assert len(outage_lines) == 2 and all(record.levelname == "WARNING" for record in outage_lines)
    assert any("throttling of client authentication is off (fails open)" in policy for policy in policies)


def test_sign_in_fails_closed_while_the_cache_is_down(client, user, cache_down):
    response = client.post("/accounts/login/", {"login": user.username, "password": "not checked"})
    assert_unavailable_page(response)
    assert "_auth_user_id" not in client.session


def test_user_codes_fail_closed_while_the_cache_is_down(client, signed_in, cache_down):
    assert_unavailable_page(client.post("/o/device/", {"user_code": "ABCD-EFGH"}))


def test_registrations_fail_closed_while_the_cache_is_down(client, cache_down, settings):
    # Anyone may register (MCP_READY): without its counter nothing would bound it.
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DCR_ENABLED": True}
    body = {"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none"}
    response = client.post("/o/register/", body, content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (503, "temporarily_unavailable")
    assert response["Retry-After"]
    assert not get_application_model().objects.exists()


def test_readiness_fails_while_the_worker_drains(client):
    probes.draining.set()
    try:
        response = client.get("/readyz")
        assert (response.status_code, response.json()) == (503, {"status": "draining"})
        # Alive all the same: it finishes what it has.
        assert client.get("/healthz").status_code == 200
    finally:
        probes.draining.clear()
    assert client.get("/readyz").status_code == 200


SETTINGS_PROBE = """
import json
from django.conf import settings
print(json.dumps([settings.CACHES["default"].get("OPTIONS"), settings.DATABASES["default"].get("OPTIONS")]))
"""


def test_a_dead_redis_or_postgresql_costs_seconds_at_most():
    environment = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_ENV_FILE": os.devnull,
        "CACHE_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETTINGS_PROBE],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    cache_options, database_options = json.loads(result.stdout.splitlines()[-1])
    assert cache_options == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    assert database_options == {"connect_timeout": 5}
