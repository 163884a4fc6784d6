"""
Which requests run in a transaction (ATOMIC_REQUESTS), which read-only ones do not, and how the
token endpoint opens its own.

Every write path keeps its transaction: the row locks of code and refresh-token redemption
(authserver/transactions.py: lock_rows) and the all-or-nothing token issuance depend on it. The hot
read-only views run without one, so that on SQLite they never wait for its one write lock. The
token endpoint opens its own: around a whole redemption, and for client credentials around the
token's writes alone.
"""

import fcntl
import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from oauth2_provider.models import get_access_token_model

from authserver import audit
from authserver.transactions import writers_turn

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "BEGIN")

# Every view that writes but the token endpoint: grants, consent, revocation, device codes, sign-in and sign-out,
# passwords, second factors, sessions.
ATOMIC_ROUTES = (
    "oauth2_provider:authorize",
    "oauth2_provider:revoke-token",
    "oauth2_provider:device-authorization",
    "oauth2_provider:device",
    "oauth2_provider:device-confirm",
    "oauth2_provider:rp-initiated-logout",
    "account_login",
    "account_logout",
    "account_reset_password",
    "account_change_password",
    "mfa_activate_totp",
    "usersessions_list",
)
READ_ONLY_ROUTES = (
    "api-me",
    "oauth2_provider:introspect",
    "oauth2_provider:user-info",
    "oauth2_provider:jwks-info",
)


def route_path(name):
    if name == "oauth2_provider:device-confirm":
        return reverse(name, kwargs={"client_id": "c", "user_code": "u"})
    return reverse(name)


def runs_atomic(name):
    view = resolve(route_path(name)).func
    return "default" not in getattr(view, "_non_atomic_requests", set())


@pytest.mark.parametrize("name", ATOMIC_ROUTES)
def test_every_write_path_runs_in_a_transaction(name):
    assert runs_atomic(name)


@pytest.mark.parametrize("name", READ_ONLY_ROUTES)
def test_the_read_only_views_take_no_transaction(name):
    assert not runs_atomic(name)


def statements(queries):
    return [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]


def test_the_token_endpoint_opens_its_own_transactions():
    assert not runs_atomic("oauth2_provider:token")


def client_credentials(client, m2m_client):
    return client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )


class InTransaction:
    """Each statement the connection runs, and whether a transaction was open around it."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        verb = sql.split(None, 1)[0].upper()
        if verb != "BEGIN":  # SQLite's start of a transaction, which Django runs just before it opens
            self.statements.append((verb, connection.in_atomic_block))
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_client_credentials_write_in_a_transaction_begun_after_the_checks(client, m2m_client):
    # On SQLite, the one write lock is taken when the transaction begins (IMMEDIATE): only for
    # the writes, not for the client's authentication.
    statements = InTransaction()
    with connection.execute_wrapper(statements):
        response = client_credentials(client, m2m_client)
    assert response.status_code == 200
    writes = [inside for verb, inside in statements.statements if verb in WRITES]
    assert writes and all(writes), statements.statements
    assert not statements.statements[0][1], statements.statements


@pytest.mark.django_db(transaction=True)
def test_a_code_is_redeemed_in_one_transaction_from_its_check(client, authorize, exchange):
    # Of two redemptions of one code at once, the second waits at the code's row (lock_rows).
    request, code = authorize(scope="openid read")
    statements = InTransaction()
    with connection.execute_wrapper(statements):
        response = exchange(request, code)
    assert response.status_code == 200
    assert statements.statements and all(inside for _, inside in statements.statements), statements.statements


@pytest.mark.django_db(transaction=True)
def test_a_token_whose_audit_row_fails_is_not_issued(client, m2m_client, monkeypatch):
    def failing_record(*args, **kwargs):
        raise OperationalError("the audit row could not be written")

    monkeypatch.setattr(audit, "record", failing_record)
    response = client_credentials(client, m2m_client)
    assert response.status_code == 503
    assert not get_access_token_model().objects.filter(application__client_id=m2m_client.client_id).exists()


# Another process holding the writers' turn: as a second gunicorn worker would.
HOLD_THE_TURN = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_writers_take_turns_across_threads_and_processes(tmp_path):
    path = str(tmp_path / "db.sqlite3-writers")
    order = []
    inside = threading.Event()

    def first():
        with writers_turn(path):
            order.append("first in")
            inside.set()
            time.sleep(0.2)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with writers_turn(path):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_TURN, path, "0.5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    with writers_turn(path):
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited > 0.2, waited
    # The lock was the operating system's: free again once the other process let it go.
    with open(path) as file:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_read_only_requests_write_nothing_and_open_no_transaction(client, authorize, exchange, m2m_client):
    request, code = authorize(scope="openid read")
    token = exchange(request, code).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for method, path, data, headers in (
        ("get", "/api/me/", None, bearer),
        ("get", "/o/userinfo/", None, bearer),
        ("post", "/o/introspect/", {"token": token}, {"HTTP_AUTHORIZATION": m2m_client.basic_auth}),
        ("get", "/o/.well-known/jwks.json", None, {}),
    ):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(path, data, **headers)
        assert response.status_code == 200, path
        assert not set(statements(queries)) & set(WRITES), (path, statements(queries))
