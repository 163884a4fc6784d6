"""
The cache of validated access tokens (authserver/token_cache.py): a hit skips the token's lookup, and
every change that invalidates a token is refused on the very next request, here and in every
other worker. Another worker's memory is this process's cache as it was before the change: the
shared generation alone must make it refuse the token. The template's
tests/test_live_security.py does the same against gunicorn with several workers.

Real commits (transaction=True): the generation is bumped once the change has committed.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from authserver import token_cache
from authserver.models import TokenGeneration

from .support import api_me_status, revoke, token_request

pytestmark = pytest.mark.django_db(transaction=True)

AccessToken = get_access_token_model()
TOKEN_TABLE = AccessToken._meta.db_table


def generation():
    return TokenGeneration.objects.get(pk=1).value


def token_lookups(client, access_token):
    """The status of /api/me/ with the token, and how many of its queries read the token table."""
    with CaptureQueriesContext(connection) as queries:
        status = api_me_status(client, access_token)
    return status, sum(TOKEN_TABLE in query["sql"] for query in queries.captured_queries)


def introspect(client, credentials, access_token):
    response = client.post(
        "/o/introspect/", {"token": access_token}, HTTP_AUTHORIZATION=credentials.basic_auth
    )
    assert response.status_code == 200
    return response.json()


@pytest.fixture(autouse=True)
def generation_row():
    """The row the migration made: a transactional test's flush empties every table."""
    TokenGeneration.objects.get_or_create(pk=1)
    token_cache._entries.clear()


@pytest.fixture
def m2m_token(client, m2m_client):
    return token_request(client, m2m_client, grant_type="client_credentials", scope="read").json()[
        "access_token"
    ]


@pytest.fixture
def other_worker():
    """What another worker's cache still holds: restore() puts it back after a change."""

    class Memory:
        def remember(self):
            self.entries = dict(token_cache._entries)
            assert self.entries, "nothing cached to remember"

        def restore(self):
            token_cache._entries.update(self.entries)

    yield Memory()
    token_cache._entries.clear()


def test_a_validated_token_is_checked_again_without_its_lookup(client, m2m_token):
    assert token_lookups(client, m2m_token) == (200, 1)
    assert token_lookups(client, m2m_token) == (200, 0)


def test_revoked_at_the_endpoint_it_is_refused_by_every_worker(client, m2m_client, m2m_token, other_worker):
    assert api_me_status(client, m2m_token) == 200
    assert introspect(client, m2m_client, m2m_token)["active"] is True
    other_worker.remember()
    before = generation()
    assert revoke(client, m2m_client, token=m2m_token).status_code == 200
    assert generation() == before + 1
    other_worker.restore()
    assert api_me_status(client, m2m_token) == 401
    other_worker.restore()
    assert introspect(client, m2m_client, m2m_token) == {"active": False}


def test_a_rotated_refresh_token_takes_its_access_token_along(
    authorize, exchange, client, demo_client, other_worker
):
    request, code = authorize()
    tokens = exchange(request, code).json()
    assert api_me_status(client, tokens["access_token"]) == 200
    other_worker.remember()
    refreshed = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    other_worker.restore()
    assert api_me_status(client, tokens["access_token"]) == 401
    assert api_me_status(client, refreshed.json()["access_token"]) == 200


def test_withdrawn_consent_is_refused_by_every_worker(authorize, exchange, client, demo_client, other_worker):
    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert api_me_status(client, access_token) == 200
    other_worker.remember()
    assert client.post("/accounts/consents/", {"client_id": demo_client.client_id}).status_code == 302
    other_worker.restore()
    assert api_me_status(client, access_token) == 401


def test_a_disabled_client_and_a_deleted_user_are_refused_by_every_worker(
    client, m2m_client, m2m_token, application_model, authorize, exchange, other_worker
):
    assert api_me_status(client, m2m_token) == 200
    other_worker.remember()
    application = application_model.objects.get(client_id=m2m_client.client_id)
    application.is_disabled = True
    application.save()
    other_worker.restore()
    assert api_me_status(client, m2m_token) == 401

    request, code = authorize()
    access_token = exchange(request, code).json()["access_token"]
    assert api_me_status(client, access_token) == 200
    other_worker.remember()
    AccessToken.objects.get(token_checksum=token_cache.token_checksum(access_token)).user.delete()
    other_worker.restore()
    assert api_me_status(client, access_token) == 401


def test_an_entry_never_outlives_its_token(client, m2m_token, other_worker):
    """Expiry needs no change at all: DOT checks it on the cached token too."""
    AccessToken.objects.all().update(expires=timezone.now() + timedelta(seconds=1))
    assert api_me_status(client, m2m_token) == 200
    (entry,) = token_cache._entries.values()
    # Fresh for at most the token's remaining second, not OAUTH_TOKEN_CACHE_SECONDS.
    assert entry[1] - token_cache.time.monotonic() <= 1
    deadline = timezone.now() + timedelta(seconds=5)
    while api_me_status(client, m2m_token) == 200:
        assert timezone.now() < deadline, "the expired token is still accepted"


def test_a_bulk_delete_bumps_once_and_a_rolled_back_savepoint_keeps_the_bump(client, m2m_client, m2m_token):
    others = [
        token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
        for _ in range(3)
    ]
    before = generation()
    AccessToken.objects.exclude(token_checksum=token_cache.token_checksum(m2m_token)).delete()
    assert generation() == before + 1
    assert all(api_me_status(client, token) == 401 for token in others)

    assert api_me_status(client, m2m_token) == 200
    with transaction.atomic():
        AccessToken.objects.all().delete()
        try:
            with transaction.atomic():
                AccessToken.objects.all().delete()
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert generation() == before + 2


def test_cleartokens_bumps_the_generation(client, m2m_token):
    AccessToken.objects.all().update(expires=timezone.now() - timedelta(days=1))
    before = generation()
    call_command("cleartokens")
    assert generation() > before
    assert api_me_status(client, m2m_token) == 401


def test_without_a_readable_generation_every_check_reads_the_database(client, m2m_token):
    TokenGeneration.objects.all().delete()
    assert token_lookups(client, m2m_token) == (200, 1)
    assert token_lookups(client, m2m_token) == (200, 1)


def test_nothing_is_cached_with_the_cache_off(client, m2m_token, settings):
    settings.OAUTH_TOKEN_CACHE_SECONDS = 0
    assert token_lookups(client, m2m_token) == (200, 1)
    assert token_lookups(client, m2m_token) == (200, 1)


def test_an_unknown_token_is_never_cached(client):
    assert api_me_status(client, "no-such-token") == 401
    assert token_cache._entries == {}
