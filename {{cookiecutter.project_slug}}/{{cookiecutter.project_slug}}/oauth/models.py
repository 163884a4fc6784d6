from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.models import AbstractApplication
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.settings import oauth2_settings


class Application(AbstractApplication):
    """
    An OAuth client. Swapped in from day one (OAUTH2_PROVIDER_APPLICATION_MODEL)
    so you can add fields, such as a logo or a per-client policy, with a plain
    migration instead of a model swap later.
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
