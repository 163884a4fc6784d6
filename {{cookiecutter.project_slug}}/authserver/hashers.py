# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The hasher of OAuth client secrets (DOT's CLIENT_SECRET_HASHER): fast, because a client secret is
long and random, unlike a password.
"""

import hashlib
import secrets

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop as _


class ClientSecretHasher(BasePasswordHasher):
    """
    Salted SHA-256 for OAuth client secrets, never for passwords.

    DOT generates secrets of 128 random characters: nobody can guess one, so the
    key stretching that protects human passwords buys nothing here and would cost
    ~0.5-1 s of CPU on every token request. Registered last in PASSWORD_HASHERS so
    Django never picks it for a password.
    """

    algorithm = "client_secret_sha256"

    def salt(self):
        return secrets.token_hex(16)

    def encode(self, password, salt):
        # What Django's own hashers check (BasePasswordHasher.encode's contract).
        if password is None:
            raise TypeError("password must be provided.")
        if not salt or "$" in salt:
            raise ValueError("salt must be provided and cannot contain $.")
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded):
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("salt"): mask_hash(decoded["salt"], show=2),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password, encoded):
        pass
