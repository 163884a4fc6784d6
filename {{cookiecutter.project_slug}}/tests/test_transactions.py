"""
Which requests run in a transaction (ATOMIC_REQUESTS), and which read-only ones do not.

Every write path keeps its transaction: the row locks of code and refresh-token redemption
(authserver/transactions.py: lock_rows) and the all-or-nothing token issuance depend on it. The hot
read-only views run without one, so that on SQLite they never wait for its one write lock.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "BEGIN")

# Every view that writes: tokens, grants, consent, revocation, device codes, sign-in and sign-out,
# passwords, second factors, sessions.
ATOMIC_ROUTES = (
    "oauth2_provider:token",
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


def test_the_token_endpoint_writes_in_the_request_transaction(client, m2m_client):
    # Under the test's own transaction, the request's is a savepoint around everything it does.
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
        )
    assert response.status_code == 200
    assert statements(queries)[0] == "SAVEPOINT"
    assert "INSERT" in statements(queries)


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
