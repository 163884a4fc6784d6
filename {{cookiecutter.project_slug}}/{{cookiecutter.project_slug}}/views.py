from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    return render(request, "home.html")


@never_cache
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
