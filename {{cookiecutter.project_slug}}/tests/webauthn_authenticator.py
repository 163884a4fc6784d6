"""
A WebAuthn authenticator in software, for the tests that sign in with a security key or a passkey
through allauth's pages without a browser: it answers the server's options as an authenticator
and browser would (W3C WebAuthn Level 2 §6.5, §7.1, §7.2), with a P-256 key, "none" attestation
and the user-present and user-verified flags. Built from fido2's own data types, the library
allauth verifies with. tests/live.py drives Chromium's virtual authenticator instead.
"""

import hashlib
import json
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

FLAGS = AuthenticatorData.FLAG


class SoftwareAuthenticator:
    def __init__(self, origin):
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.user_handle = None
        self.sign_count = 0

    def client_data(self, ceremony, options):
        return CollectedClientData.create(type=ceremony, challenge=options["challenge"], origin=self.origin)

    def authenticator_data(self, rp_id, flags, credential_data=b""):
        self.sign_count += 1
        return AuthenticatorData.create(
            hashlib.sha256(rp_id.encode()).digest(), flags, self.sign_count, credential_data
        )

    def create(self, creation_options):
        """navigator.credentials.create() for allauth's creation options; the credential as JSON."""
        options = creation_options["publicKey"]
        self.user_handle = websafe_decode(options["user"]["id"])
        public_key = ES256.from_cryptography_key(self.key.public_key())
        credential_data = AttestedCredentialData.create(bytes(16), self.credential_id, public_key)
        flags = FLAGS.UP | FLAGS.UV | FLAGS.AT
        auth_data = self.authenticator_data(options["rp"]["id"], flags, credential_data)
        response = {
            "clientDataJSON": websafe_encode(self.client_data("webauthn.create", options)),
            "attestationObject": websafe_encode(AttestationObject.create("none", auth_data, {})),
        }
        return json.dumps(self.credential(response))

    def get(self, request_options):
        """navigator.credentials.get() for allauth's request options; the assertion as JSON."""
        options = request_options["publicKey"]
        auth_data = self.authenticator_data(options["rpId"], FLAGS.UP | FLAGS.UV)
        client_data = self.client_data("webauthn.get", options)
        signature = self.key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": websafe_encode(client_data),
            "authenticatorData": websafe_encode(auth_data),
            "signature": websafe_encode(signature),
            "userHandle": websafe_encode(self.user_handle),
        }
        return json.dumps(self.credential(response))

    def credential(self, response):
        credential_id = websafe_encode(self.credential_id)
        return {
            "id": credential_id,
            "rawId": credential_id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }
