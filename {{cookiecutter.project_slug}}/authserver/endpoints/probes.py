# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Probes for load balancers and orchestrators: `/healthz` (liveness) and `/readyz` (readiness).

They open no transaction (ATOMIC_REQUESTS would, and fail with a 500 before the view could
answer 503 while the database is down), and are never cached: view_policy.PROBE.
"""

import threading
import uuid

from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ..view_policy import PROBE, declare

# Set in a worker told to stop (gunicorn.conf.py, post_worker_init): it still serves, but answers
# readiness with 503 so the load balancer sends it nothing new before it stops listening.
draining = threading.Event()


@declare(PROBE)
@require_GET
def healthz(request):
    """Liveness: the app answers and the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001  (any database failure means "not healthy")
        return JsonResponse({"status": "error", "database": type(error).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@declare(PROBE)
@require_GET
def readyz(request):
    """Readiness: send traffic here only when the database, its schema and the cache are all there,
    and the process is not on its way out."""
    if draining.is_set():
        return JsonResponse({"status": "draining"}, status=503)
    checks = {"database": "ok", "migrations": "ok", "cache": "ok"}
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            checks["migrations"] = f"{len(pending)} pending"
    except Exception as error:  # noqa: BLE001  (any database failure means "not ready")
        checks["database"] = checks["migrations"] = type(error).__name__
    probe = uuid.uuid4().hex
    try:
        cache.set(f"readyz:{probe}", probe, timeout=5)
        if cache.get(f"readyz:{probe}") != probe:
            checks["cache"] = "lost a value"
    except Exception as error:  # noqa: BLE001  (a cache that raises makes every throttled request fail)
        checks["cache"] = type(error).__name__
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "error", **checks}, status=200 if ready else 503)
