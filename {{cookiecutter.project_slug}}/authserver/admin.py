# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""The admin of the engine's own records; DOT registers its client and token models itself, the
client with application_admin.ApplicationAdmin."""

from django.contrib import admin

from .models import Consent


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "scope", "granted_at")
    list_select_related = ("user", "application")
    list_filter = ("application",)
    search_fields = ("user__username", "application__name")
    raw_id_fields = ("user",)
    readonly_fields = ("granted_at",)
