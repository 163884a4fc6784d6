"""The admin of the project's own OAuth records; DOT registers its client and token models itself,
the client with ApplicationAdmin here (DOT's APPLICATION_ADMIN_CLASS setting)."""

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin

from .models import Consent


class ApplicationAdmin(DOTApplicationAdmin):
    """DOT's client admin, which shows every field of the model, with the per-client policies to filter on."""

    list_display = (*DOTApplicationAdmin.list_display, "requires_multi_factor", "is_disabled")
    list_filter = (*DOTApplicationAdmin.list_filter, "requires_multi_factor", "is_disabled")


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "scope", "granted_at")
    list_select_related = ("user", "application")
    list_filter = ("application",)
    search_fields = ("user__username", "application__name")
    raw_id_fields = ("user",)
    readonly_fields = ("granted_at",)
