# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Remembered consent (OIDC Core §3.1.2.4): what a user allowed a client on the consent page.

Asked again for the same scopes or fewer, the user is not asked again, so that prompt=none
answers a returning user with a code (OIDC Core §3.1.2.1). prompt=consent, or a client set to
always ask (`Application.always_ask_consent`), shows the consent page all the same: the adapter
decides (ServerAdapter.skip_consent). The user sees the clients they allowed at
/accounts/consents/ (endpoints/consents.py) and can withdraw consent there, which also revokes
that client's codes and tokens for the user: nothing outlives the consent.

A client that registered itself or is known by its metadata document (registration_source dcr or
cimd) is verified by no one here, and its name is its own choice (RFC 7591 §5): the consent and
device pages say so (`about_client`), and a consent given to it is remembered for
UNVERIFIED_CLIENT_CONSENT only, after which the user is asked again.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from . import audit
from .models import AuditEvent, Consent

# How long a consent to an unverified client counts (the RFC 6749 §10.2 advice on not issuing
# repeated authorizations to a client whose identity is not verified without the user).
UNVERIFIED_CLIENT_CONSENT = timedelta(hours=1)


def is_verified(application):
    """Whether an admin added the client (registration_source manual), rather than the client itself."""
    return application.registration_source == application.RegistrationSource.MANUAL


def about_client(application, redirect_uri=None):
    """What the consent and device pages show besides the client's name, which anyone can choose:
    whether this server vouches for it, the host of its metadata document (its client_id), and
    the host the user will be sent to."""
    is_document = application.registration_source == application.RegistrationSource.CIMD
    return {
        "verified": is_verified(application),
        "document_host": urlsplit(application.client_id).hostname if is_document else None,
        "redirect_host": urlsplit(redirect_uri).hostname if redirect_uri else None,
        "remembered_for_minutes": int(UNVERIFIED_CLIENT_CONSENT.total_seconds() // 60),
    }


def remember_consent(user, application, scopes):
    """Record that the user allowed `scopes`, on top of what they allowed the client before."""
    consent, _ = Consent.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scope": ""}
    )
    consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scopes)))
    consent.save()
    audit.record(AuditEvent.Kind.CONSENT_GIVEN, actor=user, client=application, scopes=sorted(scopes))


def consent_on_record(user, application, scopes):
    """Whether the user has allowed the client every one of `scopes` before (an unverified client:
    within UNVERIFIED_CLIENT_CONSENT; its granted_at moves each time the user allows it)."""
    consents = Consent.objects.filter(user=user, application=application)
    if not is_verified(application):
        consents = consents.filter(granted_at__gt=timezone.now() - UNVERIFIED_CLIENT_CONSENT)
    allowed = consents.values_list("scope", flat=True).first()
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
