"""Request ids on responses and log lines, JSON log lines, and no secret in any log line."""

import io
import json
import logging

import pytest

from authserver.middleware import request_logging

from .support import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """What the configured console handler writes, in production's JSON form, for this test."""
    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(log_filter, request_logging.RequestIDFilter) for log_filter in handler.filters)
    )
    stream, formatter = io.StringIO(), handler.formatter
    previous_stream = handler.setStream(stream)
    handler.setFormatter(request_logging.JSONFormatter())
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous_stream)
    handler.setFormatter(formatter)


def test_a_sane_request_id_from_the_proxy_is_kept_and_logged(client, log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-42.a_b:c")
    assert response["X-Request-ID"] == "edge-42.a_b:c"
    [line] = [line for line in log_lines() if line.get("path") == "/healthz"]
    assert line["request_id"] == "edge-42.a_b:c"
    assert line["status"] == 200 and line["method"] == "GET" and line["duration_ms"] >= 0


@pytest.mark.parametrize("offered", ["", "two words", "line\nbreak", "x" * 129, "<script>"])
def test_any_other_request_id_is_replaced_by_a_fresh_one(client, offered):
    first = client.get("/healthz", HTTP_X_REQUEST_ID=offered)["X-Request-ID"]
    second = client.get("/healthz", HTTP_X_REQUEST_ID=offered)["X-Request-ID"]
    assert first != offered and len(first) == 32 and first != second


def test_every_line_of_a_request_carries_its_id_and_no_query_string(client, log_lines):
    client.get("/no/such/page/?code=secret-code", HTTP_X_REQUEST_ID="req-1")
    lines = log_lines()
    assert {line["logger"] for line in lines} >= {"django.request", request_logging.__name__}
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert "secret-code" not in json.dumps(lines)


def test_the_json_formatter_writes_named_fields_only():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.request = "<WSGIRequest: GET '/?code=leaked'>"
    line = json.loads(request_logging.JSONFormatter().format(record))
    assert line["message"] == "hello world" and line["request_id"] == "-"
    assert "leaked" not in json.dumps(line)


def test_no_password_secret_or_token_reaches_the_log_even_at_debug_level(
    client, caplog, user, demo_client, m2m_client, authorize, exchange
):
    # DJANGO_LOG_LEVEL=DEBUG, and Django's own loggers down to DEBUG as well.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    request, code = authorize()
    tokens = exchange(request, code).json()
    refreshed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=demo_client.basic_auth,
    ).json()
    machine_token = client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    ).json()["access_token"]
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {refreshed['access_token']}").status_code == 200
    for token in (refreshed["access_token"], machine_token):
        introspected = client.post(
            "/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=m2m_client.basic_auth
        )
        assert introspected.json()["active"] is True
    revoked = client.post(
        "/o/revoke_token/", {"token": refreshed["refresh_token"]}, HTTP_AUTHORIZATION=demo_client.basic_auth
    )
    assert revoked.status_code == 200
    # A failed sign-in and a wrong secret are logged too: still without the values tried.
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD + "-wrong"})
    client.post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "client_id": m2m_client.client_id,
            "client_secret": "not-the-secret",
        },
    )

    secrets = {
        "password": PASSWORD,
        "wrong password": PASSWORD + "-wrong",
        "demo client secret": demo_client.client_secret,
        "machine client secret": m2m_client.client_secret,
        "wrong client secret": "not-the-secret",
        "authorization code": code,
        "code verifier": request.code_verifier,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "ID token": tokens["id_token"],
        "refreshed access token": refreshed["access_token"],
        "refreshed refresh token": refreshed["refresh_token"],
        "machine token": machine_token,
    }
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert [name for name, value in secrets.items() if value in logged] == []


def test_the_development_servers_request_lines_have_no_query_string():
    """runserver logs each request on `django.server` as it does here; the query string carries
    codes, state and id_token_hint, so only the path is written, as in production."""
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    server_logger = logging.getLogger("django.server")
    server_logger.addHandler(capture)
    try:
        server_logger.info(
            '"%s" %s %s',
            "GET /demo/callback/?code=s3cret-code&state=st4te&id_token_hint=eyJ.h1nt HTTP/1.1",
            "200",
            "512",
            extra={"request": None, "server_time": "now"},
        )
    finally:
        server_logger.removeHandler(capture)
    line = stream.getvalue()
    assert '"GET /demo/callback/ HTTP/1.1" 200 512' in line
    assert "s3cret" not in line and "st4te" not in line and "h1nt" not in line
