# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The client admin: DOT registers its client model with this class (APPLICATION_ADMIN_CLASS in
settings). A module of its own, imported by DOT's admin and not by admin.py: DOT's admin module
imports it while that module is still loading.
"""

from django import forms
from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin
from oauth2_provider.forms import ApplicationForm
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

# A client's grant, as the model stores it, and the grant_type the token endpoint knows it by
# (RFC 6749 §4.1.3, §4.4.2; RFC 8628 §3.4). Implicit, password and hybrid have none here: the
# server never serves them (server.Server; RFC 9700 §2.1.2, §2.4).
TOKEN_GRANT_TYPES = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: "authorization_code",
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: "client_credentials",
    AbstractApplication.GRANT_DEVICE_CODE: AbstractApplication.GRANT_DEVICE_CODE,
}


def supported_grants():
    """The model's grants this server serves: those whose grant type OAUTH2_GRANT_TYPES_SUPPORTED offers."""
    offered = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
    return [
        (value, label)
        for value, label in AbstractApplication.GRANT_TYPES
        if TOKEN_GRANT_TYPES.get(value) in offered
    ]


class ClientForm(ApplicationForm):
    """DOT's form offering only the grants this server serves: a client saved with another one
    would be refused only when used (unsupported_response_type, unsupported_grant_type)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["authorization_grant_type"]
        choices = supported_grants()
        stored = self.instance.authorization_grant_type if self.instance.pk else None
        if stored and stored not in dict(choices):
            # Shown as it is, so the admin sees what the client has; saving asks for another.
            label = dict(AbstractApplication.GRANT_TYPES).get(stored, stored)
            choices = [*choices, (stored, f"{label} (not served by this server: choose another)")]
        field.choices = choices

    def clean_authorization_grant_type(self):
        grant = self.cleaned_data["authorization_grant_type"]
        if grant not in dict(supported_grants()):
            raise forms.ValidationError("This server does not serve this grant; choose one of the others.")
        return grant


class ApplicationAdmin(DOTApplicationAdmin):
    """DOT's client admin, which shows every field of the model, offering only the grants the server
    serves; its list names each client (the link), its grant and kind, with the per-client policies
    to filter on."""

    form = ClientForm
    list_display = (
        "client",
        "authorization_grant_type",
        "kind",
        "client_type",
        "requires_multi_factor",
        "is_disabled",
    )
    list_display_links = ("client",)
    list_filter = (
        *DOTApplicationAdmin.list_filter,
        "is_resource_server",
        "requires_multi_factor",
        "is_disabled",
    )

    @admin.display(description="Name", ordering="name")
    def client(self, application):
        # A client registered without a name still gets a link.
        return application.name or application.client_id

    @admin.display(description="Kind")
    def kind(self, application):
        """What the client is, from how it came and what it may do."""
        source = AbstractApplication.RegistrationSource
        if application.registration_source == source.CIMD:
            return "Metadata document"
        if application.registration_source == source.DCR:
            return "Self-registered"
        if application.is_resource_server:
            return "Resource server"
        if application.client_type == AbstractApplication.CLIENT_PUBLIC:
            return "Public"
        if application.authorization_grant_type == AbstractApplication.GRANT_CLIENT_CREDENTIALS:
            return "Service"
        return "Web"
