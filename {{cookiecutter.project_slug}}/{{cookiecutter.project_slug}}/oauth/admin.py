"""The admin of the project's own OAuth records; DOT registers its client and token models itself."""

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
