# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The decisions an owner changes, in one class: the claims released about users, when the consent
page may be skipped, what a sign-in must have before a client is authorised, and the names of
the acr levels. As django-allauth's adapters: settings.OAUTH_SERVER_ADAPTER names a subclass of
DefaultServerAdapter in your own package (<your package>/adapter.py), which overrides what it
needs; the engine asks `get_adapter()` and never needs editing. docs/customising.md has examples.
"""

from functools import cache

from allauth.account.models import EmailAddress
from allauth.account.utils import has_verified_email
from django.conf import settings
from django.utils.module_loading import import_string

from .consent import consent_on_record


class DefaultServerAdapter:
    # Claims: OpenID Connect Core 1.0 §5 ----------------------------------------------------

    # The scope that releases each claim (OIDC Core §5.4), and so the claims discovery lists
    # (claims_supported). A claim of yours released with `profile` needs its line here, as in
    # {**DefaultServerAdapter.claim_scopes, "team": "profile"}; a claim without one is never released.
    claim_scopes = {
        "sub": "openid",
        "name": "profile",
        "given_name": "profile",
        "family_name": "profile",
        "preferred_username": "profile",
        "updated_at": "profile",
        "email": "email",
        "email_verified": "email",
    }

    def subject(self, user):
        """OIDC Core §2 `sub`: opaque and stable (users.User.sub), not DOT's default of the row's id."""
        return str(user.sub)

    def claims(self, user):
        """
        The claims about `user` by name, in their OIDC Core §5.1 JSON types, each released in the
        ID token and at UserInfo only with its scope (claim_scopes); None leaves a claim out,
        never sent empty or null (§5.3.2).
        - `name` is the full name, and left out with the given and family names when the user
          has none: the username is not a name, and it is released as `preferred_username`.
        - `email_verified` is what allauth knows: whether the user proved they receive mail at that
          address (a verification or password-reset link, or `manage.py verify_email`).
        - `updated_at` is when the user's row was last saved, in seconds since the epoch.
        """
        return {
            "name": user.get_full_name() or None,
            "given_name": user.first_name or None,
            "family_name": user.last_name or None,
            "preferred_username": user.get_username(),
            "email": user.email or None,
            "email_verified": self.email_verified(user) if user.email else None,
            "updated_at": int(user.updated_at.timestamp()),
        }

    def email_verified(self, user):
        """Whether allauth's records say the user verified `user.email` (OIDC Core §5.7)."""
        return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()

    # Consent: OIDC Core §3.1.2.4 ----------------------------------------------------------------

    def skip_consent(self, request, application, scopes):
        """Whether `request.user` may authorise `application` for `scopes` without the consent
        page: by default when they allowed it those scopes before (authserver/consent.py) and it
        is not set to always ask. prompt=consent shows the page whatever this says; a client with
        DOT's `skip_authorization` never shows it."""
        return not application.always_ask_consent and consent_on_record(request.user, application, scopes)

    # Sign-in -----------------------------------------------------------------------------------

    def email_verification_required(self, user):
        """Whether `user` must verify an e-mail address before authorising any client: with open
        sign-up (ACCOUNT_ALLOW_SIGNUPS) anyone may claim any address, and clients take the `email`
        claim as theirs."""
        return settings.ACCOUNT_ALLOW_SIGNUPS and not has_verified_email(user)

    # Authentication levels: OIDC Core §2 acr ----------------------------------------------------

    # The ID token's acr values, lowest first, as discovery lists them (acr_values_supported): a
    # sign-in with one kind of factor reaches the first, with two kinds (a password and a code or
    # a security key, or a passkey with user verification) the second. Rename them to your
    # federation's values if it has some (authserver/authentication_context.py says what each means).
    acr_values = ("single-factor", "multi-factor")

    def requires_multi_factor(self, application):
        """Whether every user of `application` must sign in with a second factor before a code
        is issued or a device approved: by default the client's own setting in the admin."""
        return application.requires_multi_factor


@cache
def adapter_class(path):
    return import_string(path)


def get_adapter():
    """The adapter settings.OAUTH_SERVER_ADAPTER names."""
    return adapter_class(settings.OAUTH_SERVER_ADAPTER)()
