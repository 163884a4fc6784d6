"""
The project's OAuth2 validator: the place to add claims and per-client policy.

https://django-oauth-toolkit.readthedocs.io/en/latest/oidc.html#adding-claims-to-the-id-token
"""

from .conformance import Validator


class OAuth2Validator(Validator):
    def get_additional_claims(self):
        # OIDC Core 1.0 §5.4: DOT releases each claim only with its scope
        # (`oidc_claim_scope`): profile claims with `profile`, e-mail with `email`.
        return {
            "name": lambda request: request.user.get_full_name() or request.user.get_username(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "preferred_username": lambda request: request.user.get_username(),
            "email": lambda request: request.user.email,
            # Django does not verify addresses; extend the user model if you do.
            "email_verified": lambda request: False,
        }
