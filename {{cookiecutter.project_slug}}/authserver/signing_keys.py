# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The OIDC signing keys on disk: the active one, the inactive ones it replaced, and a staged one.

An inactive key stays in the JWKS until every ID token it signed has expired, so relying
parties can still verify them (OIDC Core 1.0 §10.1.1, "Rotation of Asymmetric Signing Keys").
A staged key (`rotate_oidc_key --stage`) is published before it signs, so that with several
servers every JWKS has it before the first ID token it signs (`rotate_oidc_key --activate`).
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauth2_provider.utils import jwk_from_pem

# Inactive keys are named after the moment they were replaced, when the lifetime of the
# last ID tokens they signed starts counting, then their kid: 20250102T030405Z-<kid>.key.
RETIRED_AT_FORMAT = "%Y%m%dT%H%M%SZ"
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def load_signing_keys(provider_settings, key_file: Path, inactive_dir: Path) -> None:
    """Fill DOT's OIDC_RSA_PRIVATE_KEY and OIDC_RSA_PRIVATE_KEYS_INACTIVE at start-up (OAuthConfig.ready).

    The active key is the PEM text given in settings, else the key file. The published but
    inactive keys are the PEM texts given as one string, one after the other, the staged key
    beside the key file, and every key in `inactive_dir`; a list given in settings is taken as
    it is.
    """
    if not provider_settings.get("OIDC_RSA_PRIVATE_KEY") and key_file.is_file():
        provider_settings["OIDC_RSA_PRIVATE_KEY"] = key_file.read_text()
    inactive = provider_settings.get("OIDC_RSA_PRIVATE_KEYS_INACTIVE") or ""
    if isinstance(inactive, str):
        staged = staged_key_path(key_file)
        provider_settings["OIDC_RSA_PRIVATE_KEYS_INACTIVE"] = [
            *PEM_PRIVATE_KEY.findall(inactive),
            *([staged.read_text()] if staged.is_file() else []),
            *(path.read_text() for path in sorted(inactive_dir.glob("*.key"))),
        ]


def staged_key_path(key_file: Path) -> Path:
    """Where the next key waits, published but not yet signing: keys/oidc.staged.key."""
    return key_file.with_name(f"{key_file.stem}.staged{key_file.suffix}")


def key_id(pem: str) -> str:
    """The `kid` that DOT puts in the ID token header and the JWKS: the RFC 7638 thumbprint."""
    return jwk_from_pem(pem).thumbprint()


def write_new_private_key(path: Path, bits: int) -> str:
    """Write a fresh RSA key, readable by its owner only, atomically; return its PEM."""
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
    return pem.decode()


def inactive_key_path(inactive_dir: Path, pem: str, retired_at: datetime) -> Path:
    return inactive_dir / f"{retired_at.strftime(RETIRED_AT_FORMAT)}-{key_id(pem)}.key"


def retired_at(path: Path) -> datetime | None:
    """When an inactive key was replaced, from its name; None for a name not of that form."""
    try:
        return datetime.strptime(path.stem.partition("-")[0], RETIRED_AT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
