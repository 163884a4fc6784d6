# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
A request id on every log line, and one JSON object per line in production.

The id comes from the `X-Request-ID` header when a proxy in front already set a sane one,
so its logs and ours line up; otherwise it is made here. Either way the response carries it.
https://docs.python.org/3/library/logging.html#filter-objects
"""

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_finished

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a little punctuation: nothing that could forge a log line or a header.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NO_REQUEST = "-"

current_request_id: ContextVar[str] = ContextVar("current_request_id", default=NO_REQUEST)
# The request being served, for code that runs without it at hand (the request validator, model
# signals) and needs its address and user agent: the audit trail (authserver/audit.py).
current_request: ContextVar[object] = ContextVar("current_request", default=None)
logger = logging.getLogger(__name__)


class RequestIDMiddleware:
    """Sets the request id for the request's log records, returns it, and logs the request."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Django logs 4xx and 5xx answers after the middleware returns: the id is forgotten
        # only when the request has finished.
        request_finished.connect(forget_request_id, dispatch_uid=__name__)

    def __call__(self, request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        current_request_id.set(request_id)
        current_request.set(request)
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        # The path only: query strings carry authorization codes and state.
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response


def forget_request_id(**kwargs):
    current_request_id.set(NO_REQUEST)
    current_request.set(None)


class RequestIDFilter(logging.Filter):
    """Gives every record the id of the request being served, or "-" outside a request."""

    def filter(self, record):
        record.request_id = current_request_id.get()
        return True


class QueryStringFilter(logging.Filter):
    """Cuts the query string out of runserver's request lines ("GET /path?query HTTP/1.1"):
    authorization codes, state and id_token_hint travel there."""

    QUERY_STRING = re.compile(r"\?\S*")

    def filter(self, record):
        record.msg = self.QUERY_STRING.sub("", record.getMessage())
        record.args = ()
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line. Only named fields are written, never arbitrary `extra` values."""

    # "event": an audit event's fields (authserver/audit.py).
    REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "event")

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        entry.update({name: getattr(record, name) for name in self.REQUEST_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
