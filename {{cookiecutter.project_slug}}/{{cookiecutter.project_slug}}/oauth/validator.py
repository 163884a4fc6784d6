"""
The request validator (OAUTH2_VALIDATOR_CLASS): where oauthlib's grants ask about clients, codes,
tokens and users, and where DOT answers from the database. Its gaps are closed here, each fix
naming the section it implements; the claims it releases are in claims.py.
"""

import uuid

from oauth2_provider import oauth2_validators
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauthlib.oauth2.rfc6749 import errors

from . import claims
from .common import has_nul, lock_rows, token_checksum

# An authorization code's refresh tokens form a family named after the code (uuid5 in this
# namespace), so that a replay of the code finds and revokes them (RFC 6749 §4.1.2).
CODE_FAMILY_NAMESPACE = uuid.UUID("5b1f4c52-8d0e-4f57-9a43-0d1c6e2f7a18")


def token_family_of_code(code):
    """The refresh-token family of the tokens issued for an authorization code."""
    return uuid.uuid5(CODE_FAMILY_NAMESPACE, code)


class Validator(oauth2_validators.OAuth2Validator):
    """DOT's request validator with its gaps closed."""

    # Clients

    def _load_application(self, client_id, request):
        # DOT turns psycopg2's ValueError on a NUL into "no such client", but psycopg 3
        # raises DataError: a 500 on PostgreSQL.
        if has_nul(client_id):
            return None
        return super()._load_application(client_id, request)

    def authenticate_client(self, request, *args, **kwargs):
        try:
            return super().authenticate_client(request, *args, **kwargs)
        except ValueError:
            # RFC 6749 §2.3.1: unreadable credentials fail authentication (DOT: a 500 on non-ASCII Basic).
            return False

    # Authorization requests: OIDC Core §3.1.2.1

    def validate_silent_login(self, request):
        # prompt=none: only the view knows the session, so AuthorizationView answers
        # login_required and consent_required itself (oauthlib would raise a 500 here).
        return True

    def validate_silent_authorization(self, request):
        return True

    # Codes: RFC 6749 §4.1.2-4.1.3

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if has_nul(code):
            return False
        lock_rows(get_grant_model().objects.filter(code=code))
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
        get_refresh_token_model().revoke_family(token_family_of_code(code))
        return False

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        if super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs):
            return True
        # RFC 6749 §5.2: a redirect URI unlike the authorization request's is invalid_grant.
        raise errors.InvalidGrantError(
            "redirect_uri differs from the authorization request's.", request=request
        )

    # Tokens: RFC 6749 §5-6, RFC 9700 §4.14.2

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code" and "refresh_token" in token:
            refresh_tokens = get_refresh_token_model().objects.filter(
                token_checksum=token_checksum(token["refresh_token"])
            )
            refresh_tokens.update(token_family=token_family_of_code(request.code))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        # Of two refreshes with one token at once, the second sees the token rotated:
        # a replay (RFC 9700 §4.14.2), not a second success.
        lock_rows(get_refresh_token_model().objects.filter(token_checksum=token_checksum(refresh_token)))
        return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)

    def _load_access_token(self, token):
        # Every bearer check starts here. token_checksum is unique: DOT's .first() adds an
        # ORDER BY whose compilation is a tenth of the whole check, for nothing.
        tokens = get_access_token_model().objects.select_related("application", "user")
        return next(iter(tokens.filter(token_checksum=token_checksum(token))[:1]), None)

    # Claims: OIDC Core §5 (claims.py)

    def get_additional_claims(self):
        return claims.STANDARD_CLAIMS
