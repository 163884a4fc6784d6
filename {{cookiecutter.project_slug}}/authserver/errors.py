# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Error answers: RFC 6749 §5.2's JSON error, and the error pages a person sees (400, 403, the CSRF
check's 403, 404, 500: config/urls.py's handlers, CSRF_FAILURE_VIEW), each with a next step.

The pages are rendered without the request: what failed may be the request itself, its session
or the database its user needs (the 503 of middleware/outages.py likewise).
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .view_policy import Answers, policy_of


def oauth_error(error, description=None, status=400, **headers):
    """An error answer shaped as RFC 6749 §5.2 says: JSON, never cached (§5.1)."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def speaks_json(request):
    """Whether the view this request resolved to answers its errors in JSON (view_policy.py)."""
    match = getattr(request, "resolver_match", None)
    policy = policy_of(match.func) if match else None
    return policy is not None and policy.answers is Answers.JSON


def bad_request(request, exception):
    """handler400: a request Django cannot parse (a body in another charset, broken multipart...)."""
    if speaks_json(request):
        # RFC 6749 §5.2: these endpoints answer errors in JSON.
        return oauth_error("invalid_request", "Unreadable request.")
    return error_page("400.html", 400)


def error_page(template, status, **context):
    """An error page that needs neither the request nor the database, never stored."""
    response = HttpResponse(
        render_to_string(template, {"server_name": settings.PROJECT_NAME, **context}), status=status
    )
    response["Cache-Control"] = "no-store"
    return response


def permission_denied(request, exception):
    """handler403."""
    return error_page("403.html", 403)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent without its CSRF token or cookie, most often a page left
    open past its session, or a browser that refuses cookies. `reason` is Django's own
    sentence (django.middleware.csrf), safe to show: it names no secret."""
    return error_page("403_csrf.html", 403, reason=reason)


def page_not_found(request, exception):
    """handler404 (at DEBUG, Django shows its own page instead)."""
    return error_page("404.html", 404)


def server_failed():
    """The 500 page (middleware/outages.py's handler500 sends it for an error that is not the database's)."""
    return error_page("500.html", 500)
