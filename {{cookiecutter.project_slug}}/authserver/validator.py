# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The request validator (OAUTH2_VALIDATOR_CLASS): where oauthlib's grants ask about clients, codes,
tokens and users, and where DOT answers from the database. Its gaps are closed here, each fix
naming the section it implements; the claims it releases are the adapter's (adapter.py, claims.py).
"""

import contextlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider import oauth2_validators
from oauth2_provider.models import get_grant_model, get_refresh_token_model
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors, utils

from . import audit, claims, client_cache, token_cache
from .adapter import get_adapter
from .authentication_context import Authentication
from .consent import remember_consent
from .device_codes import device_code_status
from .models import AuditEvent, SignIn
from .parameters import has_nul
from .token_cache import token_checksum
from .transactions import lock_rows, write_transaction

# An authorization code's refresh tokens form a family named after the code (uuid5 in this
# namespace), so that a replay of the code finds and revokes them (RFC 6749 §4.1.2).
CODE_FAMILY_NAMESPACE = uuid.UUID("5b1f4c52-8d0e-4f57-9a43-0d1c6e2f7a18")


def token_family_of_code(code):
    """The refresh-token family of the tokens issued for an authorization code."""
    return uuid.uuid5(CODE_FAMILY_NAMESPACE, code)


def printable(text):
    """`text` as RFC 6749 §5.2 allows in error_description: printable ASCII without " and \\."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


def scope_refusal(client, refused, request):
    """Which scopes the client may not have, and why: the client by name and client_id, never its secret."""
    known = set(get_scopes_backend().get_all_scopes())
    unknown = [scope for scope in refused if scope not in known]
    about_users = [scope for scope in refused if scope in settings.OIDC_SCOPES]
    if unknown:
        refused, reason = unknown, "not a scope of this server"
    elif request.grant_type == "client_credentials" and about_users:
        reason = "client credentials never get the scopes that describe a user"
    else:
        reason = "not in its allowed scopes (the admin's Allowed scopes)"
    return printable(f"Client {client_named(client)} may not be granted {' '.join(refused)}: {reason}.")


def client_named(client):
    """The client as its developer knows it: its name and client_id, never its secret."""
    return f"{client.name} ({client.client_id})" if client.name else client.client_id


class Validator(oauth2_validators.OAuth2Validator):
    """DOT's request validator with its gaps closed."""

    # Clients

    def authenticate_client(self, request, *args, **kwargs):
        # A secret that authenticated this client since the last change to any client is taken
        # without DOT's lookup (client_cache.py); DOT's check answers every other.
        def check(request):
            try:
                return super(Validator, self).authenticate_client(request, *args, **kwargs)
            except ValueError:
                # RFC 6749 §2.3.1: unreadable credentials fail authentication (DOT: a 500 on non-ASCII Basic).
                return False

        return client_cache.authenticate(request, check)

    # Scopes: RFC 6749 §3.3

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        # RFC 6749 §3.3: the server grants what its policy allows. Each client may have the scopes
        # its registration allows (Application.allowed_scopes), and client credentials, where no
        # user takes part (§4.4), none of the scopes that describe a user (OIDC Core §5.4).
        allowed = client.allowed_scope_set()
        if request.grant_type == "client_credentials":
            allowed -= set(settings.OIDC_SCOPES)
        refused = [scope for scope in dict.fromkeys(scopes) if scope not in allowed]
        if refused:
            # RFC 6749 §5.2: error_description is for the client's developer, who needs to know
            # which scope and which client to fix; invalid_scope alone names neither.
            raise errors.InvalidScopeError(
                description=scope_refusal(client, refused, request), request=request
            )
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    # Authorization requests: OIDC Core §3.1.2.1

    def validate_silent_login(self, request):
        # prompt=none: only the view knows the session, so AuthorizationView answers
        # login_required and consent_required itself (oauthlib would raise a 500 here).
        return True

    def validate_silent_authorization(self, request):
        return True

    def validate_user_match(self, id_token_hint, scopes, claims_request, request):
        # OIDC Core §5.5.1: an ID token asked for a particular sub goes to that user only; oauthlib
        # answers login_required otherwise. The user is known once they answer the consent page
        # (or are let through without it), before any code is made.
        sub = claims.requested_sub(claims_request)
        if sub is not None and request.user is not None and sub != self.subject_of(request):
            return False
        return super().validate_user_match(id_token_hint, scopes, claims_request, request)

    # Codes: RFC 6749 §4.1.2-4.1.3

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        # OIDC Core §3.1.2.4: what the user allowed on the consent page (AuthorizationView), with
        # the scopes as validated, once the code exists.
        if getattr(request, "consent_given", False) is True:
            remember_consent(request.user, request.client, request.scopes)
        # OIDC Core §2 auth_time, amr, acr: how the user authenticated to the session that authorized
        # the code (AuthorizationView.create_authorization_response), for the ID tokens of its family.
        authentication = getattr(request, "authentication", None)
        if isinstance(authentication, Authentication) and authentication.authenticated_at is not None:
            # A family unused for longer than a refresh token lives has no live token left.
            lifetime = (
                oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS + oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
            )
            SignIn.objects.filter(used_at__lt=timezone.now() - timedelta(seconds=lifetime)).delete()
            SignIn.objects.create(
                token_family=token_family_of_code(code["code"]),
                authenticated_at=authentication.authenticated_at,
                methods=list(authentication.methods),
                level=authentication.level or "",
            )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if has_nul(code):
            return False
        lock_rows(get_grant_model().objects.filter(code=code))
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
        family = token_family_of_code(code)
        RefreshToken = get_refresh_token_model()
        if RefreshToken.objects.filter(token_family=family).exists():
            # A code that was exchanged before: a replay, not a mistyped or expired code.
            audit.record(AuditEvent.Kind.CODE_REPLAYED, client=client, token_family=str(family))
        RefreshToken.revoke_family(family)
        return False

    def validate_device_code(self, client_id, code, request, *args, **kwargs):
        # oauthlib 4's question at each device poll (RFC 8628 §3.5).
        return device_code_status(client_id, code, request)

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        if super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs):
            return True
        # RFC 6749 §5.2: a redirect URI unlike the authorization request's is invalid_grant.
        raise errors.InvalidGrantError(
            "redirect_uri differs from the authorization request's.", request=request
        )

    # Tokens: RFC 6749 §5-6, RFC 9700 §4.14.2

    def is_within_original_scope(self, request_scopes, refresh_token, request, *args, **kwargs):
        # RFC 6749 §6: a refresh never widens the grant. oauthlib asks this only of scopes beyond
        # the refresh token's, and would answer a bare invalid_scope; RFC 6749 §5.2's description
        # says which scopes and which client.
        # DOT answers a space-separated string, as oauthlib reads it.
        original = set(utils.scope_to_list(self.get_original_scopes(refresh_token, request)))
        wider = " ".join(scope for scope in dict.fromkeys(request_scopes) if scope not in original)
        description = f"The refresh token of client {client_named(request.client)} was not granted {wider}."
        raise errors.InvalidScopeError(description=printable(description), request=request)

    def save_bearer_token(self, token, request, *args, **kwargs):
        # The tokens and their audit row together: in the grant's transaction, or one of their own
        # for client credentials (endpoints/token.py, transactions.write_transaction).
        with contextlib.nullcontext() if connection.in_atomic_block else write_transaction():
            # DOT's own atomic block inside this one would only add a savepoint, two statements per
            # token (two round trips on PostgreSQL); DOT names _save_bearer_token as the method to
            # override. What the savepoint did, never to keep a part of the writes: DOT raises its
            # OAuth errors (answered with a 400) before its first write; should one come after,
            # the whole transaction is rolled back instead of the part.
            try:
                self._save_bearer_token(token, request, *args, **kwargs)
            except errors.OAuth2Error:
                transaction.set_rollback(True)
                raise
            # The audit trail: what was issued, to whom, never the token (audit.py).
            audit.record(
                AuditEvent.Kind.TOKEN_REFRESHED
                if request.grant_type == "refresh_token"
                else AuditEvent.Kind.TOKEN_ISSUED,
                actor=request.user,
                client=request.client,
                grant_type=request.grant_type,
                scopes=token.get("scope", "").split(),
                refresh_token="refresh_token" in token,
            )
            if request.grant_type == "authorization_code" and "refresh_token" in token:
                refresh_tokens = get_refresh_token_model().objects.filter(
                    token_checksum=token_checksum(token["refresh_token"])
                )
                refresh_tokens.update(token_family=token_family_of_code(request.code))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        # Of two refreshes with one token at once, the second sees the token rotated:
        # a replay (RFC 9700 §4.14.2), not a second success.
        checksum = token_checksum(refresh_token)
        lock_rows(get_refresh_token_model().objects.filter(token_checksum=checksum))
        if super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return True
        # A revoked token refused (DOT revoked its family, REFRESH_TOKEN_REUSE_PROTECTION): a
        # replay, or a token used after its revocation. An unknown or expired one is not.
        replayed = (
            get_refresh_token_model()
            .objects.filter(token_checksum=checksum, revoked__isnull=False)
            .select_related("user")
            .first()
        )
        if replayed is not None:
            audit.record(
                AuditEvent.Kind.REFRESH_TOKEN_REPLAYED,
                actor=replayed.user,
                client=client,
                token_family=str(replayed.token_family or ""),
            )
        return False

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        # RFC 7009 §2.2: the same answer whether the token existed or not; the trail says which
        # client asked, never the token.
        hint = token_type_hint if token_type_hint in ("access_token", "refresh_token") else ""
        audit.record(AuditEvent.Kind.TOKEN_REVOKED, client=request.client, token_type_hint=hint)

    # ID tokens: OIDC Core §2, §12.2

    def get_id_token_dictionary(self, token, token_handler, request):
        id_token, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        # auth_time, amr and acr: how the user authenticated to the session that authorized the
        # code (authentication_context.py), also in the ID tokens of its refresh tokens (§12.2);
        # not DOT's last_login, which a sign-in elsewhere moves.
        if request.grant_type == "authorization_code":
            family = token_family_of_code(request.code)
        else:
            family = getattr(getattr(request, "refresh_token_instance", None), "token_family", None)
        sign_in = SignIn.objects.filter(token_family=family).first() if family else None
        if sign_in is not None:
            id_token["auth_time"] = int(sign_in.authenticated_at.timestamp())
            if sign_in.methods:
                id_token["amr"] = sign_in.methods
            if sign_in.level:
                id_token["acr"] = sign_in.level
            sign_in.save(update_fields=["used_at"])
        return id_token, expiration_time

    # Bearer tokens: RFC 6750

    def _load_access_token(self, token):
        # Every bearer check starts here, through the cache of validated tokens (token_cache.py).
        return token_cache.access_token(token_checksum(token))

    # Claims: OIDC Core §5 (the adapter's, adapter.py; claims.py)

    @property
    def oidc_claim_scope(self):
        # The scope that releases each claim (§5.4), which DOT reads here.
        return get_adapter().claim_scopes

    def get_additional_claims(self, request):
        adapter = get_adapter()
        return {"sub": adapter.subject(request.user), **adapter.claims(request.user)}

    def get_discovery_claims(self, request):
        # OIDC Discovery 1.0 §3 claims_supported: every claim the adapter may release, and the
        # ID token's claims about the authentication.
        return list(dict.fromkeys(["sub", *get_adapter().claim_scopes, "auth_time", "acr", "amr"]))

    def subject_of(self, request):
        """The `sub` claim of request.user, as the ID token and UserInfo release it."""
        return get_adapter().subject(request.user)

    def get_oidc_claims(self, token, token_handler, request):
        # The ID token's claims about the user (DOT: every claim of the granted scopes, §5.4).
        return claims.for_the_id_token(super().get_oidc_claims(token, token_handler, request), request.claims)

    def get_userinfo_claims(self, request):
        if request.user is None:
            # OIDC Core §5.3.1, §5.3.3; RFC 6750 §3.1: UserInfo takes a token an OpenID authorization
            # request issued for a user, so a client's own (client credentials) is invalid_token.
            raise errors.InvalidTokenError(
                description="This access token speaks for no user.", request=request
            )
        # DOT's UserInfo claims are its ID token claims: every claim of the granted scopes (§5.3.2, §5.4).
        return claims.with_values(super().get_oidc_claims(request.access_token, None, request))
