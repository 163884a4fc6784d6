# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""The admin of the engine's own records; DOT registers its client and token models itself, the
client with application_admin.ApplicationAdmin."""

from django.conf import settings
from django.contrib import admin

from .models import AuditEvent, Consent

# The admin under the project's name (PROJECT_NAME) rather than "Django administration".
admin.site.site_header = f"{settings.PROJECT_NAME} administration"
admin.site.site_title = f"{settings.PROJECT_NAME} admin"


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "scope", "granted_at")
    list_select_related = ("user", "application")
    list_filter = ("application",)
    search_fields = ("user__username", "application__name")
    raw_id_fields = ("user",)
    readonly_fields = ("granted_at",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail (audit.py): read, filtered and searched, never written here."""

    list_display = ("time", "kind", "actor_name", "client_id", "ip", "request_id")
    list_filter = ("kind", "time")
    search_fields = ("actor_name", "client_id", "ip", "request_id")
    date_hierarchy = "time"
    # The name is kept for the record; the link would be a query per row.
    fields = (
        "time",
        "kind",
        "actor_name",
        "actor_id",
        "client_id",
        "ip",
        "user_agent",
        "request_id",
        "details",
    )
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Events go only when OAUTH_AUDIT_RETENTION_DAYS have passed (cleartokens).
        return False
