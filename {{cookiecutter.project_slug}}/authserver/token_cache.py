# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
A short-lived cache of validated access tokens, in each process, in front of the database lookup
that every bearer check (validator.py) starts with.

Why: that lookup, mostly Django building the SQL of a three-table query, is about 60% of the CPU
time of `/api/me/` and of introspection (docs/performance.md). A hit costs one indexed read of a
one-row table instead.

Revocation stays instant, across workers and machines: every entry carries the number of the
`TokenGeneration` row (models.py) it was made under, and is used only while that row still holds
the same number, read on every request. Every change that could make an accepted token invalid
bumps the number once its transaction has committed (`transaction.on_commit`), before the
response of the request that made the change is sent: by the time a client learns that a token
is revoked, no worker anywhere accepts it. The changes are those that Django's signals see
(`connect_signals`): any save or delete of an access token (revocation, rotation, consent
withdrawn, cleartokens, an admin edit, a queryset's delete()), of a client, or of a user other than
a sign-in's last_login. A change they do not see (QuerySet.update(), raw SQL, another program)
must call `tokens_changed()`, or it takes effect within OAUTH_TOKEN_CACHE_SECONDS.

What is not cached: an unknown token (nothing negative is kept at all); anything past the
token's own expiry or OAUTH_TOKEN_CACHE_SECONDS (10 s by default; 0 turns the cache off); any
lookup inside a transaction, or when the number cannot be read (then the database answers).
"""

import copy
import hashlib
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from .models import TokenGeneration

# Beyond this many tokens a process starts afresh: a bound on memory, not a policy.
MAX_ENTRIES = 10_000

# checksum -> (generation, monotonic time the entry is good until, the token as loaded)
_entries = {}


def token_checksum(token):
    """How DOT finds a stored token (`token_checksum`): the SHA-256 of the token, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _generation_sql():
    table = connection.ops.quote_name(TokenGeneration._meta.db_table)
    return (
        f"SELECT value FROM {table} WHERE id = 1",
        f"UPDATE {table} SET value = value + 1 WHERE id = 1",
    )


def current_generation():
    """The shared number, or None where it must not be trusted: then no cache."""
    if connection.in_atomic_block:
        # Inside a transaction the database may answer from a snapshot, and a failed read
        # would break the transaction: the lookup goes to the database.
        return None
    read, _ = _generation_sql()
    try:
        with connection.cursor() as cursor:
            cursor.execute(read)
            row = cursor.fetchone()
    except DatabaseError:
        return None
    return row[0] if row else None


def _copy(token):
    """Each request gets its own token, client and user objects: a view may change them."""
    duplicate = copy.copy(token)
    if token.application_id is not None:
        duplicate.application = copy.copy(token.application)
    if token.user_id is not None:
        duplicate.user = copy.copy(token.user)
    return duplicate


def stored_access_token(checksum):
    """The stored access token with this checksum, with its client and user, or None."""
    # token_checksum is unique: DOT's .first() adds an ORDER BY whose compilation is a tenth of
    # the whole check, for nothing.
    tokens = get_access_token_model().objects.select_related("application", "user")
    return next(iter(tokens.filter(token_checksum=checksum)[:1]), None)


def access_token(checksum):
    """The access token with this checksum (token_checksum), from the cache or the database."""
    seconds = getattr(settings, "OAUTH_TOKEN_CACHE_SECONDS", 0)
    # Read before the lookup: a change committed in between bumps the number past this one,
    # so an entry made from a stale lookup is never used.
    generation = current_generation() if seconds > 0 else None
    if generation is None:
        return stored_access_token(checksum)
    now = time.monotonic()
    entry = _entries.get(checksum)
    if entry is not None and entry[0] == generation and now < entry[1]:
        return _copy(entry[2])
    token = stored_access_token(checksum)
    if token is None or token.expires is None:
        return token
    lifetime = min(seconds, (token.expires - timezone.now()).total_seconds())
    if lifetime > 0:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[checksum] = (generation, now + lifetime, token)
        return _copy(token)
    return token


def bump_generation():
    """Make every entry of every process stale. Run after the changing transaction commits."""
    _, bump = _generation_sql()
    with connection.cursor() as cursor:
        cursor.execute(bump)


def tokens_changed(**kwargs):
    """Call after a change that could make an accepted token invalid (signal receivers call it)."""
    # This process at once, even before the commit (and in tests, whose transactions never commit).
    _entries.clear()
    # Once per transaction, however many rows it changes (a cleartokens batch): Django keeps a
    # transaction's callbacks in run_on_commit, which a rolled-back savepoint takes its own out of.
    if not any(bump_generation in callback for callback in connection.run_on_commit):
        transaction.on_commit(bump_generation)


def _saved(sender, instance, created, **kwargs):
    # A token or client just made is in no cache.
    if not created:
        tokens_changed()


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    # A sign-in saves last_login alone, which no token depends on; every other save counts.
    if not created and set(update_fields or ()) != {"last_login"}:
        tokens_changed()


def connect_signals():
    """Called from apps.py: the changes Django sees, each bumping the generation."""
    access_token, application, user = get_access_token_model(), get_application_model(), get_user_model()
    post_save.connect(_saved, sender=access_token, dispatch_uid="token-cache-token-saved")
    post_save.connect(_saved, sender=application, dispatch_uid="token-cache-client-saved")
    post_save.connect(_user_saved, sender=user, dispatch_uid="token-cache-user-saved")
    for model in (access_token, application, user):
        post_delete.connect(
            tokens_changed, sender=model, dispatch_uid=f"token-cache-{model._meta.label}-deleted"
        )
