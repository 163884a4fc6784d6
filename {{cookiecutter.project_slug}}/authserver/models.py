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
        # Imported here: DOT's validator module loads the application model when imported.
        from oauth2_provider.oauth2_validators import is_valid_resource_uri

        super().clean()
        unknown = set(self.allowed_scopes.split()) - set(get_scopes_backend().get_all_scopes())
        if unknown:
            raise ValidationError({"allowed_scopes": f"Unknown scopes: {', '.join(sorted(unknown))}."})
        invalid = [uri for uri in self.resource_uris.split() if not is_valid_resource_uri(uri)]
        if invalid:
            message = f"Not absolute URIs with a host (RFC 8707 §2): {', '.join(invalid)}."
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
