"""Liveness (/healthz) and readiness (/readyz): what a load balancer or an orchestrator probes."""

import socket

import pytest
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db


def closed_port():
    """A loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_readyz_is_ok_when_the_database_is_migrated_and_the_cache_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "ok", "cache": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_fails_while_a_migration_is_pending(client):
    MigrationRecorder.Migration.objects.filter(app="oauth").delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["migrations"].endswith("pending")
    # Liveness is another question: the process and its database still answer.
    assert client.get("/healthz").status_code == 200


def test_readyz_fails_while_the_shared_cache_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["cache"] == "ConnectionError"
