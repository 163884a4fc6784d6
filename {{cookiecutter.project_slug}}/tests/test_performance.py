"""
Work removed from the hot paths (docs/performance.md): each test fails if it comes back.
Which requests run in a transaction is in test_transactions.py.
"""

import runpy
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.signals import app_authorized

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parent.parent


def client_credentials(client, m2m_client):
    return client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )


def test_connections_persist_and_are_checked_on_every_database():
    # SQLite included: a new connection re-runs its set-up pragmas on every request.
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def test_gunicorn_recycles_workers_rarely():
    # At 2,000 requests a busy worker re-imported Django every few seconds.
    config = runpy.run_path(str(PROJECT_DIR / "gunicorn.conf.py"))
    assert config["max_requests"] >= 100_000
    assert 0 < config["max_requests_jitter"] < config["max_requests"]


def test_a_bearer_check_is_one_query_without_ordering(client, m2m_client):
    token = client_credentials(client, m2m_client).json()["access_token"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    (query,) = queries.captured_queries
    assert "ORDER BY" not in query["sql"]


def test_the_token_endpoint_reads_the_token_it_wrote_once_by_its_checksum(client, m2m_client):
    # DOT's own token view reads the new token back for its app_authorized signal: one read, by
    # the unique checksum, and no more (the price of DOT's code path, whose fixes then apply).
    with CaptureQueriesContext(connection) as queries:
        response = client_credentials(client, m2m_client)
    assert response.status_code == 200
    token_reads = [
        q for q in queries.captured_queries if q["sql"].startswith('SELECT "oauth2_provider_accesstoken"')
    ]
    assert len(token_reads) == 1
    assert '"oauth2_provider_accesstoken"."token_checksum" =' in token_reads[0]["sql"]


def test_app_authorized_still_gets_the_token_when_someone_listens(client, m2m_client):
    received = []

    def receiver(sender, request, token, **kwargs):
        received.append(token)

    app_authorized.connect(receiver)
    try:
        response = client_credentials(client, m2m_client)
    finally:
        app_authorized.disconnect(receiver)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert [token.application.client_id for token in received] == [m2m_client.client_id]
