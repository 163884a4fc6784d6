"""
The cache of authenticated clients (authserver/client_cache.py) and introspection through the
cache of validated tokens (authserver/endpoints/introspection.py): a hit skips the client's and
the token's lookups, and every change to a client or a token is refused on the very next request,
here and in every other worker. Another worker's memory is this process's caches as they were
before the change: the shared generation alone must make it refuse.

Real commits (transaction=True): the generation is bumped once the change has committed, and
neither cache answers inside a transaction.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_application_model
from oauth2_provider.views import IntrospectTokenView as DOTIntrospectTokenView

from authserver import client_cache, token_cache
from authserver.models import TokenGeneration

from .support import Credentials, revoke, token_request

pytestmark = pytest.mark.django_db(transaction=True)

Application = get_application_model()
CLIENT_TABLE = Application._meta.db_table


@pytest.fixture(autouse=True)
def generation_row():
    """The row the migration made: a transactional test's flush empties every table."""
    TokenGeneration.objects.get_or_create(pk=1)
    client_cache._entries.clear()
    token_cache._entries.clear()


@pytest.fixture
def m2m_token(client, m2m_client):
    response = token_request(client, m2m_client, grant_type="client_credentials", scope="read")
    return response.json()["access_token"]


@pytest.fixture
def other_worker():
    """What another worker's caches still hold: restore() puts them back after a change."""

    class Memory:
        def remember(self):
            self.clients, self.tokens = dict(client_cache._entries), dict(token_cache._entries)
            assert self.clients, "no client cached to remember"

        def restore(self):
            client_cache._entries.update(self.clients)
            token_cache._entries.update(self.tokens)

    yield Memory()
    client_cache._entries.clear()
    token_cache._entries.clear()


def introspect(client, credentials, token):
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=credentials.basic_auth)


def client_lookups(request):
    """The response of `request()`, its number of queries, and how many load a client (the token's
    lookup joins the client table, but reads from the token table)."""
    with CaptureQueriesContext(connection) as queries:
        response = request()
    sqls = [query["sql"] for query in queries.captured_queries]
    return response, len(sqls), sum(f"FROM {connection.ops.quote_name(CLIENT_TABLE)}" in sql for sql in sqls)


def test_introspection_takes_two_generation_reads_once_both_are_cached(client, m2m_client, m2m_token):
    # The client was cached by its own token request. The first: the generation for the client,
    # then the generation and the token's lookup (DOT's view loaded the client twice and the
    # token once, past the cache).
    response, queries, lookups = client_lookups(lambda: introspect(client, m2m_client, m2m_token))
    assert (response.status_code, response.json()["active"], queries, lookups) == (200, True, 3, 0)
    response, queries, lookups = client_lookups(lambda: introspect(client, m2m_client, m2m_token))
    assert (response.status_code, response.json()["active"], queries, lookups) == (200, True, 2, 0)
    assert response.json()["client_id"] == m2m_client.client_id


def test_the_answer_is_dots(client, m2m_client, m2m_token):
    """The endpoint builds DOT's answer itself (introspection.answer_about): the same, field for field."""
    dots = json.loads(DOTIntrospectTokenView.get_token_response(m2m_token).content)
    assert introspect(client, m2m_client, m2m_token).json() == dots
    assert introspect(client, m2m_client, m2m_token).json() == dots


def test_introspection_queries(client, m2m_client, m2m_token, django_assert_num_queries):
    introspect(client, m2m_client, m2m_token)
    with django_assert_num_queries(2):
        assert introspect(client, m2m_client, m2m_token).json()["active"] is True


def test_client_credentials_authenticate_through_the_cache_outside_any_transaction(client, m2m_client):
    """The grant authenticates its client before its transaction (endpoints/token.py): the second
    request reads the generation instead of the client, then writes the token and its audit event."""
    token_request(client, m2m_client, grant_type="client_credentials", scope="read")
    assert m2m_client.client_id in client_cache._entries
    response, queries, lookups = client_lookups(
        lambda: token_request(client, m2m_client, grant_type="client_credentials", scope="read")
    )
    assert (response.status_code, lookups) == (200, 0)


def test_a_code_grant_authenticates_its_client_in_its_transaction_without_the_cache(
    client, authorize, exchange, demo_client
):
    request, code = authorize(scope="openid read")
    assert exchange(request, code).status_code == 200
    assert demo_client.client_id not in client_cache._entries


def test_the_secret_is_kept_as_an_hmac_only(client, m2m_client, m2m_token):
    assert introspect(client, m2m_client, m2m_token).status_code == 200
    (entry,) = client_cache._entries.values()
    assert m2m_client.client_secret.encode() not in entry[2]
    assert entry[2] == client_cache.secret_digest(m2m_client.client_secret)


def test_a_wrong_secret_is_refused_with_the_right_one_cached_and_never_cached(client, m2m_client, m2m_token):
    assert introspect(client, m2m_client, m2m_token).status_code == 200
    cached = dict(client_cache._entries)
    wrong = Credentials(m2m_client.client_id, m2m_client.client_secret[:-1])
    for _ in range(2):
        response, _, lookups = client_lookups(lambda: introspect(client, wrong, m2m_token))
        # DOT's check, each time: nothing negative is kept, and the throttling counts each failure.
        assert response.status_code == 401
        assert lookups >= 1
    assert client_cache._entries == cached


def test_failures_are_still_throttled_with_the_right_secret_cached(client, m2m_client, m2m_token, settings):
    settings.THROTTLE_CLIENT_FAILURES_PER_CLIENT = 3
    assert introspect(client, m2m_client, m2m_token).status_code == 200
    wrong = Credentials(m2m_client.client_id, "wrong")
    assert [introspect(client, wrong, m2m_token).status_code for _ in range(3)] == [401] * 3
    assert introspect(client, m2m_client, m2m_token).status_code == 429


def changed_secret(application, old_secret):
    application.client_secret = old_secret + "-new"
    application.save()


def disabled(application, old_secret):
    application.is_disabled = True
    application.save()


def deleted(application, old_secret):
    application.delete()


def made_public(application, old_secret):
    application.client_type = Application.CLIENT_PUBLIC
    application.save()


def no_longer_a_resource_server(application, old_secret):
    application.is_resource_server = False
    application.save()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (changed_secret, 401),
        (disabled, 401),
        (deleted, 401),
        (made_public, 401),
        (no_longer_a_resource_server, 403),
    ],
)
def test_a_changed_client_is_refused_by_every_worker(
    client, m2m_client, m2m_token, other_worker, change, status
):
    assert introspect(client, m2m_client, m2m_token).status_code == 200
    other_worker.remember()
    change(Application.objects.get(client_id=m2m_client.client_id), m2m_client.client_secret)
    other_worker.restore()
    response = introspect(client, m2m_client, m2m_token)
    assert response.status_code == status


def test_the_new_secret_works_at_once(client, m2m_client, m2m_token):
    assert introspect(client, m2m_client, m2m_token).status_code == 200
    changed_secret(Application.objects.get(client_id=m2m_client.client_id), m2m_client.client_secret)
    renewed = Credentials(m2m_client.client_id, m2m_client.client_secret + "-new")
    assert introspect(client, renewed, m2m_token).json()["active"] is True


def test_a_revoked_token_introspects_inactive_in_every_worker(client, m2m_client, m2m_token, other_worker):
    assert introspect(client, m2m_client, m2m_token).json()["active"] is True
    assert token_cache._entries, "introspection went past the cache of validated tokens"
    other_worker.remember()
    assert revoke(client, m2m_client, token=m2m_token).status_code == 200
    other_worker.restore()
    assert introspect(client, m2m_client, m2m_token).json() == {"active": False}


def test_nothing_is_cached_with_the_cache_off(client, m2m_client, m2m_token, settings):
    settings.OAUTH_TOKEN_CACHE_SECONDS = 0
    client_cache._entries.clear()  # what the token request kept
    token_cache._entries.clear()
    for _ in range(2):
        response, queries, lookups = client_lookups(lambda: introspect(client, m2m_client, m2m_token))
        assert (response.json()["active"], queries, lookups) == (True, 2, 1)
    assert client_cache._entries == {}
    assert token_cache._entries == {}


def test_a_public_client_is_never_cached(client, m2m_client, m2m_token):
    Application.objects.create(
        client_id="public-one",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_secret="public-secret",
        is_resource_server=True,
        redirect_uris="https://example.com/cb",
    )
    assert introspect(client, Credentials("public-one", "public-secret"), m2m_token).status_code == 401
    assert "public-one" not in client_cache._entries
