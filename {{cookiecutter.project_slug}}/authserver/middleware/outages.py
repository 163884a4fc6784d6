# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
503 with Retry-After, never a 500 page, while the database is unreachable or restarting.

A request that needs PostgreSQL while it is down, restarting or cut off gets
django.db.OperationalError or InterfaceError: here it becomes 503 Service Unavailable
(RFC 9110 §15.6.4) with Retry-After. The views whose policy answers in JSON (view_policy.py: the
OAuth endpoints, metadata and APIs) answer RFC 6749 §5.2's shape, error `temporarily_unavailable`;
every other page a plain one.
The request's transaction (ATOMIC_REQUESTS) is rolled back, so nothing it began is stored, and
the broken connection is replaced on a later request (CONN_HEALTH_CHECKS): no restart.

The authorization endpoint answers the plain page too, not a redirect with
`temporarily_unavailable`: without the database the client's redirect URI cannot be checked,
and RFC 6749 §4.1.2.1 forbids redirecting to an unchecked one.

Two entry points, one answer: DatabaseOutageMiddleware for an error raised in a view (or in
its transaction's BEGIN and COMMIT), `server_error` (config/urls.py's handler500) for one raised
in a middleware, such as the session's save.
"""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

from ..errors import oauth_error, server_failed, speaks_json

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Seconds a client is asked to wait: a PostgreSQL restart or fail-over takes a few.
RETRY_AFTER_SECONDS = 5


def unavailable_page():
    """503 as a page of its own, rendered without the request: its user and session would need
    the database."""
    page = render_to_string(
        "503.html", {"server_name": settings.PROJECT_NAME, "retry_after": RETRY_AFTER_SECONDS}
    )
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def unavailable_json():
    return oauth_error(
        "temporarily_unavailable",
        "The server cannot handle the request now; retry after Retry-After seconds.",
        status=503,
        Retry_After=str(RETRY_AFTER_SECONDS),
    )


def service_unavailable(request, error):
    first_line = next(iter(str(error).strip().splitlines()), "")
    logger.warning(
        "The database is unavailable (%s: %s): 503 for %s %s",
        type(error).__name__,
        first_line,
        request.method,
        request.path,
    )
    return unavailable_json() if speaks_json(request) else unavailable_page()


class DatabaseOutageMiddleware:
    """Last in MIDDLEWARE, so that its process_exception sees a view's error first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            return service_unavailable(request, exception)
        return None


def server_error(request):
    """handler500: Django calls it while handling the error, so sys.exc_info() holds that error."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_ERRORS):
        return service_unavailable(request, error)
    return server_failed()
