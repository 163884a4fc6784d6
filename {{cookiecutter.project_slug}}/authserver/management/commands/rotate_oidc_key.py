# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...signing_keys import inactive_key_path, key_id, staged_key_path, write_new_private_key

RELOAD = (
    "Reload the server (systemctl reload, or kill -HUP the gunicorn master) so its workers load the keys."
)


class Command(BaseCommand):
    help = (
        "Sign ID tokens with a new RSA key from now on; the old key stays published in the JWKS "
        "(keys/inactive/) so tokens it signed still verify. With several servers, in two phases: "
        "--stage a new key (published, not signing) and copy it to each one, then --activate it on "
        "each. Reload the workers after each step."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=settings.OIDC_RSA_PRIVATE_KEY_FILE)
        parser.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])
        phase = parser.add_mutually_exclusive_group()
        phase.add_argument(
            "--stage",
            action="store_true",
            help="Write the next key beside the active one (oidc.staged.key): published, not signing.",
        )
        phase.add_argument(
            "--activate",
            action="store_true",
            help="Sign with the staged key; the active one becomes inactive.",
        )

    def handle(self, *args, path, bits, stage, activate, **options):
        if not path.is_file():
            raise CommandError(f"No active key at {path}: create one with `manage.py create_oidc_key`.")
        staged = staged_key_path(path)
        if stage:
            if staged.exists():
                raise CommandError(f"{staged} is staged already: --activate it first.")
            new_pem = write_new_private_key(staged, bits)
            self.stdout.write(
                f"Staged {key_id(new_pem)} at {staged}: published, not signing yet.\n"
                f"Copy it to every server beside its active key, reload each, then run "
                f"`rotate_oidc_key --activate` on each. {RELOAD}"
            )
            return
        if activate and not staged.is_file():
            raise CommandError(f"No staged key at {staged}: `rotate_oidc_key --stage` writes one.")
        old_pem = path.read_text()
        inactive = inactive_key_path(path.parent / "inactive", old_pem, timezone.now())
        inactive.parent.mkdir(mode=0o700, exist_ok=True)
        # A second name for the old key first, then the new key replaces the first name in
        # one rename: at no moment is either key missing from disk.
        os.link(path, inactive)
        if activate:
            new_pem = staged.read_text()
            os.replace(staged, path)
        else:
            new_pem = write_new_private_key(path, bits)
        self.stdout.write(
            f"Signing key rotated: {key_id(old_pem)} is now inactive ({inactive}), "
            f"{key_id(new_pem)} signs.\n"
            f"{RELOAD} Retire the old key with `manage.py retire_oidc_keys` once ID tokens it "
            "signed have expired."
        )
