import uuid

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .security_headers import allow_form_action, registered_redirect_uri
from .throttling import CLIENT_AUTHENTICATION_VIEWS


@require_GET
def home(request):
    return render(request, "home.html")


# The probes open no transaction (ATOMIC_REQUESTS would, and fail with a 500 before the
# view could answer 503 while the database is down).
@never_cache
@transaction.non_atomic_requests
@require_GET
def healthz(request):
    """Liveness: the app answers and the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001  (any database failure means "not healthy")
        return JsonResponse({"status": "error", "database": type(error).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@never_cache
@transaction.non_atomic_requests
@require_GET
def readyz(request):
    """Readiness: send traffic here only when the database, its schema and the cache are all there."""
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


@never_cache
@require_GET
def demo_callback(request):
    """Where the seeded demo client lands: shows the code to redeem at the token endpoint."""
    return render(
        request,
        "demo_callback.html",
        {
            "code": request.GET.get("code", ""),
            "error": request.GET.get("error", ""),
            "error_description": request.GET.get("error_description", ""),
            "state": request.GET.get("state", ""),
        },
    )


class LoginView(auth_views.LoginView):
    """Django's login page. Signed-in users see it too: prompt=login and max_age send them here."""

    def get_context_data(self, **kwargs):
        # After signing in, an authorization request may go straight on to the client (one
        # that skips the consent page): the login form's answer then redirects there.
        allow_form_action(self.request, registered_redirect_uri(self.get_redirect_url()))
        return super().get_context_data(**kwargs)


def bad_request(request, exception):
    """400 for a request Django cannot parse (a body in another charset, broken multipart...)."""
    match = getattr(request, "resolver_match", None)
    if match and match.view_name in CLIENT_AUTHENTICATION_VIEWS:
        # RFC 6749 §5.2: these endpoints answer errors in JSON.
        return JsonResponse(
            {"error": "invalid_request", "error_description": "Unreadable request."}, status=400
        )
    return defaults.bad_request(request, exception)
