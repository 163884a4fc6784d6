# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
DOT's `cleartokens` (expired and revoked tokens, on the schedule docs/deploy.md sets), which also
deletes the audit trail's events older than OAUTH_AUDIT_RETENTION_DAYS (audit.py). This app
comes before DOT in INSTALLED_APPS, so `manage.py cleartokens` is this command.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from oauth2_provider.management.commands import cleartokens

from ...models import AuditEvent


def prune_audit_events(now=None):
    """Delete the events older than the retention period; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OAUTH_AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEvent.objects.filter(time__lt=cutoff).delete()
    return deleted


class Command(cleartokens.Command):
    help = (
        "Clean out expired tokens (run it as a cron job), and audit events older than "
        "OAUTH_AUDIT_RETENTION_DAYS."
    )

    def handle(self, *args, **options):
        super().handle(*args, **options)
        self.stdout.write(f"Removed {prune_audit_events()} audit event(s) past the retention period.")
