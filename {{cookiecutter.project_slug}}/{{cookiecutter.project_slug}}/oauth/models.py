from django.conf import settings
from django.db import models
from oauth2_provider.models import AbstractApplication


class Application(AbstractApplication):
    """
    An OAuth client. Swapped in from day one (OAUTH2_PROVIDER_APPLICATION_MODEL)
    so you can add fields, such as a logo or a per-client policy, with a plain
    migration instead of a model swap later.
    """

    always_ask_consent = models.BooleanField(
        default=False,
        help_text="Show the consent page on every authorization request, even for scopes the user has allowed.",
    )


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


class SignInTime(models.Model):
    """
    When the user signed in to the session that authorized a code (OIDC Core §2 auth_time),
    for the ID tokens of that code and of the refresh tokens issued for it (OIDC Core §12.2:
    the same auth_time). Keyed by the code's refresh-token family
    (validator.token_family_of_code), which rotation keeps.
    """

    token_family = models.UUIDField(unique=True)
    signed_in_at = models.DateTimeField()
    # The last ID token issued with it; rows unused for longer than a refresh token lives are pruned.
    used_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self):
        return f"Signed in at {self.signed_in_at:%Y-%m-%d %H:%M:%S} (token family {self.token_family})"
