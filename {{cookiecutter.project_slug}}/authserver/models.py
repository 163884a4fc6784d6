# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.models import AbstractApplication
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.settings import oauth2_settings

from .scopes import asked_by_document


class Application(AbstractApplication):
    """
    An OAuth client: DOT's, swapped in from day one (OAUTH2_PROVIDER_APPLICATION_MODEL), with this
    server's per-client policies. A field of your own (a logo, a policy) goes on a model of your
    own app, one-to-one with this one, so that the engine's migrations stay the template's
    (docs/customising.md); the adapter can read it (ServerAdapter.requires_multi_factor...).
    """

    # RFC 6749 §3.3: the scopes this client may be granted (validator.Validator.validate_scopes).
    allowed_scopes = models.TextField(
        blank=True,
        help_text="Scopes this client may be granted, space separated. Empty: only the default scopes "
        "(OAUTH_DEFAULT_SCOPES). Client credentials never get openid, profile or email.",
    )
    # RFC 7662 §2.1: who may introspect tokens (introspection.IntrospectTokenView).
    is_resource_server = models.BooleanField(
        default=False,
        help_text="A confidential client that may introspect tokens (RFC 7662), to learn about the tokens "
        "sent to it.",
    )
    resource_uris = models.TextField(
        blank=True,
        help_text="The resource indicators (RFC 8707) this resource server serves, space separated: of a "
        "token meant for certain resources it learns only if it serves one of them.",
    )
    # OIDC Core §3.1.2.4: a client may have the user asked every time (authorization.py, consent.py).
    always_ask_consent = models.BooleanField(
        default=False,
        help_text="Show the consent page on every authorization request, even for scopes the user has allowed.",
    )

    # OIDC Core §2 acr: a client whose users must sign in with a second factor (authorization.py,
    # authentication_context.py); users without one are asked to enrol first.
    requires_multi_factor = models.BooleanField(
        default=False,
        help_text="Users of this client must have a second factor (an authenticator app or a security key) "
        "and use it before a code is issued; a password-only session is asked for it first.",
    )

    # An admin's way to stop a client, a registered one above all (registration.py), at once.
    is_disabled = models.BooleanField(
        default=False,
        help_text="Refuse this client everywhere: no authorization, no token, and its tokens no longer "
        "accepted at this server's resources.",
    )

    def is_usable(self, request):
        # DOT asks this wherever it loads a client, and of a bearer token's client.
        return not self.is_disabled

    def save(self, *args, **kwargs):
        if self._state.adding and self.registration_source == self.RegistrationSource.CIMD:
            # A client known by its metadata document (endpoints/registration.py's
            # ClientMetadataFetcher) may be granted what its document asks for, within the
            # registration policy, or else the default scopes, as a registered client; DOT's
            # resolver sets neither field, and an ID token with no algorithm is a 500 at the token
            # endpoint. Set once: DOT's refresh of the document keeps both fields, so an admin's
            # later change stays, and a later document widens nothing.
            client_id, scope = asked_by_document.get()
            asked = scope.split() if client_id == self.client_id else []
            asked_by_document.set((None, ""))
            self.allowed_scopes = " ".join(dict.fromkeys(asked)) or " ".join(oauth2_settings.DEFAULT_SCOPES)
            self.algorithm = self.RS256_ALGORITHM
        super().save(*args, **kwargs)

    def allowed_scope_set(self):
        """The scopes this client may be granted."""
        return set(self.allowed_scopes.split()) or set(oauth2_settings.DEFAULT_SCOPES)

    def clean(self):
        super().clean()
        unknown = set(self.allowed_scopes.split()) - set(get_scopes_backend().get_all_scopes())
        if unknown:
            raise ValidationError({"allowed_scopes": f"Unknown scopes: {', '.join(sorted(unknown))}."})
        self.clean_resource_uris()

    def clean_resource_uris(self):
        """RFC 8707 §2: each an absolute URI without a fragment, on https, or http on a loopback
        address where the settings allow http redirect URIs (local settings), as a redirect URI
        (registration.is_loopback_or_https); and each served by one resource server only, which
        alone learns about the tokens bound to it (introspection.py)."""
        # Imported here: DOT's validator module, and the registration endpoint's, load this model.
        from oauth2_provider.oauth2_validators import is_valid_resource_uri

        from .endpoints.registration import is_loopback_or_https

        uris = self.resource_uris.split()
        invalid = [uri for uri in uris if not (is_valid_resource_uri(uri) and is_loopback_or_https(uri))]
        if invalid:
            message = (
                f"Not an absolute https URI without a fragment (RFC 8707 §2), nor http on a loopback address "
                f"where these settings allow http: {', '.join(invalid)}."
            )
            raise ValidationError({"resource_uris": message})
        if not self.is_resource_server:
            return
        others = type(self).objects.filter(is_resource_server=True).exclude(pk=self.pk)
        for other in others.exclude(resource_uris=""):
            taken = [uri for uri in uris if uri in other.resource_uris.split()]
            if taken:
                message = (
                    f"{', '.join(taken)} is already served by the resource server {other.name or other.client_id!r} "
                    f"(client_id {other.client_id}): change or delete that one first."
                )
                raise ValidationError({"resource_uris": message})


class Consent(models.Model):
    """
    The scopes a user allowed a client on the consent page (OIDC Core §3.1.2.4): asked for
    them again, or fewer, the user is not asked again (consent.py). Withdrawn on the user's
    consents page, which also revokes the client's tokens for the user.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    # Space-separated, as DOT stores scopes.
    scope = models.TextField()
    granted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_user_and_client")
        ]

    def __str__(self):
        return f"{self.user} allowed {self.application}: {self.scope}"


class SignIn(models.Model):
    """
    How the user authenticated to the session that authorized a code (authentication_context.py):
    the ID token's auth_time, amr and acr (OIDC Core §2), for the ID tokens of that code and of
    the refresh tokens issued for it (OIDC Core §12.2: the same auth_time, and the same
    authentication). Keyed by the code's refresh-token family (validator.token_family_of_code),
    which rotation keeps.
    """

    token_family = models.UUIDField(unique=True)
    authenticated_at = models.DateTimeField()
    # RFC 8176 values; empty where the session has no record of its methods.
    methods = models.JSONField(default=list)
    # One of the adapter's acr_values (authentication_context.py); empty where the session has no
    # record of its methods.
    level = models.CharField(max_length=255, blank=True)
    # The last ID token issued with it; rows unused for longer than a refresh token lives are pruned.
    used_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self):
        return (
            f"Authenticated at {self.authenticated_at:%Y-%m-%d %H:%M:%S} (token family {self.token_family})"
        )


class TokenGeneration(models.Model):
    """
    One row whose number changes after every change that could make an accepted access token
    invalid (a revocation, a rotation, a disabled client, an edited user...): the per-process
    caches of validated tokens (token_cache.py) read it on every request and trust no entry made
    under another number. Read and bumped with plain SQL; never edit it by hand.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"Token generation {self.value}"


class AuditEvent(models.Model):
    """
    A security event (audit.py): who did what, when, from where. Written once, never changed;
    kept OAUTH_AUDIT_RETENTION_DAYS (`cleartokens` prunes older ones). No field holds a secret:
    tokens, codes, passwords and client secrets are never recorded, only what names them.
    """

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        SIGN_OUT = "sign_out", "Signed out"
        LOCKED_OUT = "locked_out", "Sign-in refused: too many failures"
        SECOND_FACTOR_ADDED = "second_factor_added", "Second factor added"
        SECOND_FACTOR_REMOVED = "second_factor_removed", "Second factor removed"
        RECOVERY_CODES_RESET = "recovery_codes_reset", "Recovery codes regenerated"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset"
        PASSWORD_SET = "password_set", "Password set"
        EMAIL_ADDED = "email_added", "E-mail address added"
        EMAIL_VERIFIED = "email_verified", "E-mail address verified"
        EMAIL_PRIMARY_CHANGED = "email_primary_changed", "Primary e-mail address changed"
        EMAIL_REMOVED = "email_removed", "E-mail address removed"
        CONSENT_GIVEN = "consent_given", "Consent given"
        CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn"
        TOKEN_ISSUED = "token_issued", "Token issued"
        TOKEN_REFRESHED = "token_refreshed", "Token refreshed"
        TOKEN_REVOKED = "token_revoked", "Token revoked"
        REFRESH_TOKEN_REPLAYED = "refresh_token_replayed", "Refresh token replayed: its family revoked"
        CODE_REPLAYED = "code_replayed", "Authorization code replayed: its tokens revoked"
        CLIENT_REGISTERED = "client_registered", "Client registered"
        CLIENT_CHANGED = "client_changed", "Client changed"
        CLIENT_DISABLED = "client_disabled", "Client disabled"
        CLIENT_DELETED = "client_deleted", "Client deleted"
        ADMIN_CHANGE = "admin_change", "Change in the admin"

    time = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Who acted: the signed-in user, the user a token speaks for, the admin. The name stays when
    # the account is deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    # The client's public identifier (never its secret); it stays when the client is deleted.
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    # As the brute-force limits see it (addresses.client_address).
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # The X-Request-ID of the request (middleware/request_logging.py), to find its log lines.
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time"]
        indexes = [models.Index(fields=["kind", "time"], name="oauth_audit_kind_time")]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.kind} {self.actor_name or '-'}"
