# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
What the user's grants to clients become when how the user signs in changes (OWASP ASVS 4.0.3
V3.3.3: a password change ends the other sessions "across ... any relying parties").

- A password changed, set or reset, a second factor removed, or the other sessions signed out
  (allauth's sessions page): every grant of the user's is revoked (authorization codes, device
  approvals, refresh and access tokens), except those that the sign-in of the session that made
  the change authorized. The person who made the change keeps the clients they use; whoever else
  held the account (a phished password, a stolen session) loses every client's access.
- A user deactivated: every grant, with no exception.

Which session authorized a grant is known from its sign-in (models.SignIn, saved with each code by
validator.Validator.save_authorization_code): its authenticated_at is the time of one of allauth's
records in that session (sign_in.py), which no other session has. Signing out the other sessions
revokes every grant but the current session's, not only those of the sessions still listed: a
refresh token outlives the session that got it (14 days against 8 hours), so the sign-ins of
sessions already over would be missed, and device approvals and tokens of no sign-in record have
no session to tell.

Revoked access tokens are deleted, which moves the token caches' generation (token_cache.py): no
worker accepts them after the change's answer. The receivers are connected in apps.py
(`connect_signals`); the sessions page has no signal, so accounts.UserSessionsAdapter calls
`revoke_other_sign_ins` (USERSESSIONS_ADAPTER).
"""

from datetime import UTC, datetime

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa.signals import authenticator_removed
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save
from oauth2_provider.models import (
    get_access_token_model,
    get_device_grant_model,
    get_grant_model,
    get_refresh_token_model,
)

from . import sign_in, token_cache
from .models import SignIn
from .validator import token_family_of_code


def families_of_session(request, user):
    """The token families (models.SignIn) that this session's sign-in of `user` authorized."""
    if request is None or request.user != user:
        return set()
    times = [record.get("at") for record in sign_in.authentication_records(request)]
    # The same conversion as sign_in.latest_authentication_time, whose value SignIn keeps.
    moments = [datetime.fromtimestamp(at, UTC) for at in times if isinstance(at, int | float)]
    return set(SignIn.objects.filter(authenticated_at__in=moments).values_list("token_family", flat=True))


def revoke_grants(user, keep=frozenset()):
    """Revoke every code, device approval, refresh and access token of `user` outside the token families `keep`."""
    with transaction.atomic():
        for grant in get_grant_model().objects.filter(user=user):
            if token_family_of_code(grant.code) not in keep:
                grant.delete()
        get_device_grant_model().objects.filter(user=user).delete()
        refresh_tokens = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
        for refresh_token in refresh_tokens.exclude(token_family__in=keep):
            refresh_token.revoke()
        access_tokens = get_access_token_model().objects.filter(user=user)
        for access_token in access_tokens.exclude(refresh_token__token_family__in=keep):
            access_token.revoke()
        # Deletes move the generation already; a user with nothing left to revoke costs one bump.
        token_cache.tokens_changed()


def revoke_other_sign_ins(request, user):
    """Revoke the grants of `user` but those this session's sign-in authorized."""
    revoke_grants(user, keep=families_of_session(request, user))


def _sign_in_changed(sender, request=None, user=None, **kwargs):
    # allauth's password_changed, password_set, password_reset and authenticator_removed.
    if user is not None:
        revoke_other_sign_ins(request, user)


def _user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        revoke_grants(instance)


def connect_signals():
    """Called from apps.py."""
    signals = {
        "password-changed": password_changed,
        "password-set": password_set,
        "password-reset": password_reset,
        "authenticator-removed": authenticator_removed,
    }
    for name, signal in signals.items():
        signal.connect(_sign_in_changed, dispatch_uid=f"user-grants-{name}")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="user-grants-user-saved")
