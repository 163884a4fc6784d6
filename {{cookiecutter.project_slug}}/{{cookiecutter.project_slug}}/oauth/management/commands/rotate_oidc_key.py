import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...signing_keys import inactive_key_path, key_id, write_new_private_key


class Command(BaseCommand):
    help = (
        "Sign ID tokens with a new RSA key from now on; the old key stays published in the JWKS "
        "(keys/inactive/) so tokens it signed still verify. Restart the workers afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=settings.OIDC_RSA_PRIVATE_KEY_FILE)
        parser.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])

    def handle(self, *args, path, bits, **options):
        if not path.is_file():
            raise CommandError(f"No active key at {path}: create one with `manage.py create_oidc_key`.")
        old_pem = path.read_text()
        inactive = inactive_key_path(path.parent / "inactive", old_pem, timezone.now())
        inactive.parent.mkdir(mode=0o700, exist_ok=True)
        # A second name for the old key first, then the new key replaces the first name in
        # one rename: at no moment is either key missing from disk.
        os.link(path, inactive)
        new_pem = write_new_private_key(path, bits)
        self.stdout.write(
            f"Signing key rotated: {key_id(old_pem)} is now inactive ({inactive}), "
            f"{key_id(new_pem)} signs.\n"
            "Restart the workers (gunicorn: kill -HUP <master pid>) so they use it. Retire the "
            "old key with `manage.py retire_oidc_keys` once ID tokens it signed have expired."
        )
