import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the RSA key that signs ID tokens (RS256), readable by its owner only."

    # The key must be creatable before the checks that require it can pass.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=settings.OIDC_RSA_PRIVATE_KEY_FILE)
        parser.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])
        parser.add_argument("--force", action="store_true", help="Replace an existing key.")

    def handle(self, *args, path, bits, force, **options):
        if path.exists() and not force:
            raise CommandError(f"{path} exists; use --force to replace it (tokens it signed stop verifying).")
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, path)
        self.stdout.write(f"Wrote a {bits}-bit RSA signing key to {path} (mode 0600).")
