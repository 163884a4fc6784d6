# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...signing_keys import write_new_private_key


class Command(BaseCommand):
    help = "Create the RSA key that signs ID tokens (RS256), readable by its owner only."

    # The key must be creatable before the checks that require it can pass.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=settings.OIDC_RSA_PRIVATE_KEY_FILE)
        parser.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace an existing key at once (rotate_oidc_key keeps it published instead).",
        )

    def handle(self, *args, path, bits, force, **options):
        if path.exists() and not force:
            raise CommandError(
                f"{path} exists; `manage.py rotate_oidc_key` replaces it and keeps tokens it signed "
                "verifiable, --force replaces it outright (tokens it signed stop verifying)."
            )
        write_new_private_key(path, bits)
        self.stdout.write(f"Wrote a {bits}-bit RSA signing key to {path} (mode 0600).")
