# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
A short-lived cache of authenticated clients, in each process, in front of the client's lookup
that every client authentication (RFC 6749 §2.3.1) starts with (validator.Validator.authenticate_client).

Why: that lookup, mostly Django building its SQL, was a quarter of an introspection request
(docs/performance.md). A hit costs the one indexed read of the cache of validated tokens instead.

It follows that cache's rules (token_cache.py), under the same `TokenGeneration` number: an entry
is used only while the number it was made under is still current, read on every request, and
every save or delete of a client bumps it once committed (token_cache.connect_signals). So a
client disabled, deleted, made public or given a new secret is refused on the very next request,
by every worker.

What an entry holds: for each client_id, the client as DOT loaded it and an HMAC of the secret it
authenticated with, keyed with this process's random key; never the secret. A request hits only
with a secret whose HMAC matches (hmac.compare_digest). What is never cached: a failed
authentication (nothing negative: the throttling middleware counts every failure), a public
client, a client known by its metadata document (DOT refreshes the document when it loads one),
a secret stored in clear; nothing at all with OAUTH_TOKEN_CACHE_SECONDS at 0, inside a
transaction (a grant that redeems a code or a token authenticates its client inside its own,
endpoints/token.py; client credentials and introspection outside any), or when the number cannot
be read.
"""

import copy
import hashlib
import hmac
import secrets
import time

from django.conf import settings
from django.contrib.auth.hashers import check_password

from .client_authentication import basic_credentials
from .token_cache import current_generation

# Beyond this many clients a process starts afresh: a bound on memory, not a policy.
MAX_ENTRIES = 10_000

# The key of the secrets' HMACs: this process's own, so an entry proves nothing outside it.
_secret_key = secrets.token_bytes(32)

# client_id -> (generation, monotonic time the entry is good until, HMAC of the secret, the client)
_entries = {}


def secret_digest(secret):
    return hmac.new(_secret_key, secret.encode(), hashlib.sha256).digest()


def presented_credentials(request):
    """(client_id, client_secret) of an oauthlib request, read as DOT's authenticate_client reads
    them (HTTP Basic if the request has it, else the body), or None: unreadable, or a part empty."""
    credentials = basic_credentials(request.headers.get("HTTP_AUTHORIZATION"))
    if credentials is None and request.client_id:
        credentials = request.client_id, getattr(request, "client_secret", None)
    return credentials if credentials is not None and all(credentials) else None


def cacheable(client, client_id, secret):
    """Whether this authentication may be reused: a confidential client whose stored hash this
    secret matches, checked here whichever way DOT found it (Basic, or the body after it)."""
    return (
        client.client_id == client_id
        and client.client_type == client.CLIENT_CONFIDENTIAL
        and client.registration_source != client.RegistrationSource.CIMD
        # False for a secret stored in clear, which no hasher recognises.
        and check_password(secret, client.client_secret)
    )


def authenticate(request, check):
    """Whether the oauthlib `request` authenticates its client (setting request.client), from
    the cache or by `check(request)`, DOT's check, whose successes are kept."""
    seconds = getattr(settings, "OAUTH_TOKEN_CACHE_SECONDS", 0)
    credentials = presented_credentials(request) if seconds > 0 else None
    # Read before the lookup: a change committed in between bumps the number past this one,
    # so an entry made from a stale lookup is never used.
    generation = current_generation() if credentials else None
    if generation is None:
        return check(request)
    client_id, secret = credentials
    digest = secret_digest(secret)
    now = time.monotonic()
    entry = _entries.get(client_id)
    if (
        entry is not None
        and entry[0] == generation
        and now < entry[1]
        and hmac.compare_digest(entry[2], digest)
    ):
        # Each request its own client object: DOT and the views may change it.
        request.client = copy.copy(entry[3])
        return True
    if not check(request):
        return False
    if cacheable(request.client, client_id, secret):
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[client_id] = (generation, now + seconds, digest, copy.copy(request.client))
    return True
