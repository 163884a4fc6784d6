# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Remembered consent (OIDC Core §3.1.2.4): what a user allowed a client on the consent page.

Asked again for the same scopes or fewer, the user is not asked again, so that prompt=none
answers a returning user with a code (OIDC Core §3.1.2.1). prompt=consent, or a client set to
always ask (`Application.always_ask_consent`), shows the consent page all the same: the adapter
decides (ServerAdapter.skip_consent). The user sees the clients they allowed at
/accounts/consents/ (endpoints/consents.py) and can withdraw consent there, which also revokes
that client's codes and tokens for the user: nothing outlives the consent.
"""

from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from . import audit
from .models import AuditEvent, Consent


def remember_consent(user, application, scopes):
    """Record that the user allowed `scopes`, on top of what they allowed the client before."""
    consent, _ = Consent.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scope": ""}
    )
    consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scopes)))
    consent.save()
    audit.record(AuditEvent.Kind.CONSENT_GIVEN, actor=user, client=application, scopes=sorted(scopes))


def consent_on_record(user, application, scopes):
    """Whether the user has allowed the client every one of `scopes` before."""
    allowed = (
        Consent.objects.filter(user=user, application=application).values_list("scope", flat=True).first()
    )
    return allowed is not None and set(scopes) <= set(allowed.split())


def withdraw_consent(user, application):
    """Forget the consent and revoke what it let the client have: codes, access and refresh tokens."""
    Consent.objects.filter(user=user, application=application).delete()
    get_grant_model().objects.filter(user=user, application=application).delete()
    for refresh_token in get_refresh_token_model().objects.filter(
        user=user, application=application, revoked__isnull=True
    ):
        refresh_token.revoke()
    for access_token in get_access_token_model().objects.filter(user=user, application=application):
        access_token.revoke()
    audit.record(AuditEvent.Kind.CONSENT_WITHDRAWN, actor=user, client=application)
