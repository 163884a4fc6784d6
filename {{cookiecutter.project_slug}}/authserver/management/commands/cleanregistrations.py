# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Remove dynamically registered clients (RFC 7591, registration.py) left unused: registered more
than OAUTH_REGISTRATION_UNUSED_DAYS ago, with no code, refresh token or access token left but
their registration access token. Run it on the schedule of `cleartokens`, after it, which
deletes the expired ones (docs/mcp.md). A client removed this way that
comes back gets invalid_client and registers again, as RFC 7591 clients do.

Then DOT's `clearcimdapplications`: clients known by their metadata document (CIMD) whose cached
document has expired and that hold no live token or code; such a client's next request fetches
its document again.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings


def unused_registrations(now=None):
    Application = get_application_model()
    cutoff = (now or timezone.now()) - timedelta(days=settings.OAUTH_REGISTRATION_UNUSED_DAYS)
    tokens = get_access_token_model().objects.filter(application=OuterRef("pk"))
    in_use = (
        Exists(tokens.exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE))
        | Exists(get_refresh_token_model().objects.filter(application=OuterRef("pk"), revoked__isnull=True))
        | Exists(get_grant_model().objects.filter(application=OuterRef("pk")))
    )
    return Application.objects.filter(
        registration_source=Application.RegistrationSource.DCR, created__lt=cutoff
    ).exclude(in_use)


class Command(BaseCommand):
    help = (
        "Remove dynamically registered clients left unused (see OAUTH_REGISTRATION_UNUSED_DAYS), "
        "and clients of expired metadata documents (CIMD) without live tokens."
    )

    def handle(self, *args, **options):
        removed = 0
        for client in unused_registrations():
            client.delete()
            removed += 1
        self.stdout.write(f"Removed {removed} unused client registration(s).")
        call_command("clearcimdapplications", stdout=self.stdout)
