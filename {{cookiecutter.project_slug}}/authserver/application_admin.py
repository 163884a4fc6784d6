# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The client admin: DOT registers its client model with this class (APPLICATION_ADMIN_CLASS in
settings). A module of its own, imported by DOT's admin and not by admin.py: DOT's admin module
imports it while that module is still loading.
"""

from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin


class ApplicationAdmin(DOTApplicationAdmin):
    """DOT's client admin, which shows every field of the model, with the per-client policies to filter on."""

    list_display = (*DOTApplicationAdmin.list_display, "requires_multi_factor", "is_disabled")
    list_filter = (*DOTApplicationAdmin.list_filter, "requires_multi_factor", "is_disabled")
