# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from ...signing_keys import key_id, retired_at


class Command(BaseCommand):
    help = (
        "Delete inactive signing keys (keys/inactive/) replaced long enough ago that every ID token "
        "they signed has expired. Reload the workers afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--inactive-dir", type=Path, default=settings.OIDC_INACTIVE_KEYS_DIR)
        parser.add_argument(
            "--older-than",
            type=int,
            default=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS,
            metavar="SECONDS",
            help="Retire keys replaced more than this long ago (default: the ID token lifetime).",
        )

    def handle(self, *args, inactive_dir, older_than, **options):
        cutoff = timezone.now() - timedelta(seconds=older_than)
        retired = 0
        for path in sorted(inactive_dir.glob("*.key")):
            replaced = retired_at(path)
            if replaced is None:
                self.stdout.write(f"Kept {path}: its name does not say when it was replaced.")
            elif replaced < cutoff:
                kid = key_id(path.read_text())
                path.unlink()
                retired += 1
                self.stdout.write(f"Retired {kid} ({path}), replaced {replaced:%Y-%m-%d %H:%M:%S} UTC.")
            else:
                self.stdout.write(f"Kept {path}: replaced {replaced:%Y-%m-%d %H:%M:%S} UTC, too recently.")
        if retired:
            self.stdout.write("Reload the server so its workers stop publishing the retired keys.")
        else:
            self.stdout.write(
                f"Nothing retired: no inactive key in {inactive_dir} was replaced more than "
                f"{older_than} seconds ago."
            )
