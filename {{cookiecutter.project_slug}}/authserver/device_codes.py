# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Device codes (RFC 8628): the user codes a device shows (§6.1), and the token endpoint's answer
to a device's polls (§3.4-3.5), run by oauthlib before and after it issues the token (server.py).
The endpoints where devices and users meet are in endpoints/device.py.
"""

import re
import secrets
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import get_device_grant_model
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from .transactions import lock_rows

# User codes: RFC 8628 §6.1, §5.1

# Base 20, as §6.1 suggests: no vowels (no words spelled by chance), no digits to mistake for
# letters. 8 characters make 20**8, about 2**34.6 codes (§5.1's example); with wrong guesses
# throttled per user and per address (THROTTLE_USER_CODE_FAILURES_PER_*, middleware/throttling.py),
# an address's chance at a given code is about 2**-30 per window. DOT's own codes (base 32,
# with 0/O and 1/I) must be typed exactly.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


def user_code_from(text):
    """The stored form of a user code, however it was typed: §6.1 says to compare codes without
    the dashes and other punctuation added for readability, and without regard to case. Shown
    to the user as XXXX-XXXX; the same function forms new codes, so both sides always agree."""
    characters = re.sub(r"[\W_]", "", text).upper()
    if len(characters) != USER_CODE_LENGTH:
        return characters  # matches no code
    half = USER_CODE_LENGTH // 2
    return f"{characters[:half]}-{characters[half:]}"


def generate_user_code():
    device_grants = get_device_grant_model().objects
    while True:
        characters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        user_code = user_code_from(characters)
        # DOT finds a grant by its user code alone (and fails with a 500 on two).
        if not device_grants.filter(user_code=user_code).exists():
            return user_code


# The device's polls at the token endpoint: RFC 8628 §3.4-3.5


def device_code_status(client_id, device_code, request):
    """oauthlib's question at each poll (RequestValidator.validate_device_code, oauthlib 4): where
    the grant stands, as one of DeviceCodeGrant's statuses. Asked once the client is
    authenticated; an approved grant gives the token its user and scopes."""
    # Of two polls at once, only the first can redeem it (redeem_device_grant).
    device_grants = lock_rows(get_device_grant_model().objects.filter(device_code=device_code))
    if not device_grants:
        # RFC 6749 §5.2 (DOT answers 404 device_not_found).
        raise errors.InvalidGrantError("Unknown device_code.", request=request)
    device_grant = device_grants[0]
    if device_grant.client_id != client_id:
        raise errors.InvalidGrantError("The device_code was issued to another client.", request=request)
    if device_grant.status == device_grant.DENIED:
        return DeviceCodeGrant.DEVICE_CODE_DENIED
    if device_grant.is_expired():
        return DeviceCodeGrant.DEVICE_CODE_EXPIRED
    if device_grant.status != device_grant.AUTHORIZED:
        if polled_too_soon(device_grant):
            return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN
        return DeviceCodeGrant.DEVICE_CODE_PENDING
    request.device_grant = device_grant
    request.user = device_grant.user
    request.scopes = device_grant.scope.split()
    return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED


def redeem_device_grant(request):
    """RFC 8628 §3.5: the authorization session has concluded once the token is issued; a replay
    of the code gets expired_token. Run by oauthlib after its checks of the token request."""
    request.device_grant.status = request.device_grant.EXPIRED
    request.device_grant.save(update_fields=["status"])


# RFC 8628 §3.5: a device polling sooner than `interval` seconds after its previous poll gets
# slow_down, and must wait 5 seconds longer from then on.
SLOW_DOWN_SECONDS = 5


def polled_too_soon(device_grant):
    """Checked only once the poll comes from the code's own client, so slow_down tells nobody
    else that the code exists, and nobody else's polls slow its device down. The last poll is
    DOT's `last_checked`, in the database every worker shares (the row is locked since
    device_code_status, so of two polls at once the second sees the first)."""
    too_soon = timezone.now() - device_grant.last_checked < timedelta(seconds=device_grant.interval)
    if too_soon:
        device_grant.interval += SLOW_DOWN_SECONDS
    device_grant.save(update_fields=["interval", "last_checked"])  # last_checked: auto_now
    return too_soon
