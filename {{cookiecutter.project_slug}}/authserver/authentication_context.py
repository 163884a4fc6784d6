# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
How the user authenticated to this session, as the ID token tells a client (OpenID Connect Core
1.0 §2): `amr`, the methods used (RFC 8176 values), `acr`, the level they reach, and `auth_time`,
when the user last authenticated. All three come from django-allauth's record of the session
(`get_authentication_records`: one entry per factor proven, kept until sign-out), never from the
user's row, which a sign-in on another device changes.
https://openid.net/specs/openid-connect-core-1_0.html#IDToken
https://www.rfc-editor.org/rfc/rfc8176

The two levels (`acr`, advertised as acr_values_supported by endpoints/discovery.py), named by
the adapter's `acr_values` (by default `single-factor` and `multi-factor`):
- the first: one factor, a password in this project's sign-in.
- the second: two kinds of factor, a password and a code (TOTP or recovery code) or a security
  key, or a passkey, whose sign-in WebAuthn only accepts with user verification (a PIN or
  biometric on the authenticator beside the key itself: NIST SP 800-63B §5.1.9).
A multi-factor session meets a request for single-factor too. OIDC Core §2 lets parties agree on
the values' meanings; the defaults are named for what they mean rather than for a profile
(REFEDS, NIST AAL) whose other obligations (recovery, enrolment) this template cannot promise for
you; rename them in your adapter where your federation has values of its own.

A client asks for a level with `acr_values` (OIDC Core §3.1.2.1, voluntary) or as an essential
claim in the claims request (§5.5.1.1); a client the adapter says requires multi-factor (by
default one marked `requires_multi_factor`) asks on every request. `shortfall` says what stands in
the way (endpoints/authorization.py acts on it).
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled

from . import sign_in
from .adapter import get_adapter


def levels():
    """The acr values, lowest first (one kind of factor, two kinds): a level meets a request for
    any level before it."""
    return tuple(get_adapter().acr_values)


def single_factor():
    return levels()[0]


def multi_factor():
    return levels()[1]


# The kinds of factor (NIST SP 800-63B §4): two different ones make a multi-factor sign-in.
KNOWLEDGE, POSSESSION, VERIFICATION = "something you know", "something you have", "user verification"


def methods_and_factors(record):
    """One allauth record: its RFC 8176 §2 method values, and the kinds of factor it proves.

    A record this server cannot name in RFC 8176 (a sign-in code by e-mail, a password reset)
    adds none, though it is an authentication all the same (auth_time).
    """
    method, kind = record.get("method"), record.get("type")
    if method == "password":
        return {"pwd"}, {KNOWLEDGE}
    if method == "mfa" and kind in (Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES):
        # RFC 8176 `otp`: RFC 6238 codes, and the one-time recovery codes.
        return {"otp"}, {POSSESSION}
    if method == "mfa" and kind == Authenticator.Type.WEBAUTHN:
        # `hwk`: proof of possession of a key held by an authenticator, not by this server or the
        # page (WebAuthn without attestation cannot tell a security key from a synced passkey).
        # `user`: fido2 refuses every assertion whose user-present flag is not set. A passkey
        # sign-in (passwordless) requires the user-verified flag too; WebAuthn does not say
        # whether a PIN or a biometric verified the user, so no `pin` or `fpt`.
        factors = {POSSESSION, VERIFICATION} if record.get("passwordless") else {POSSESSION}
        return {"hwk", "user"}, factors
    return set(), set()


@dataclass(frozen=True)
class Authentication:
    """The ID token's amr, acr and auth_time for this session."""

    methods: tuple  # amr: RFC 8176 values, sorted; `mfa` (§2) with two kinds of factor
    level: str | None  # acr: one of levels(); None where the session has no allauth record
    authenticated_at: datetime | None  # auth_time

    def meets(self, level):
        order = levels()
        return self.level in order and order.index(self.level) >= order.index(level)

    def reported_level(self, requested):
        """
        The acr for the ID token: the level achieved, unless the request lists levels without it
        and the session meets one of those, which is then reported (the first, in the request's
        order of preference): OIDC Core §5.5.1.1 has an essential acr match one of its values.
        """
        requested = [level for level in requested if level in levels()]
        if self.level is None or not requested or self.level in requested:
            return self.level
        return next((level for level in requested if self.meets(level)), self.level)


def of_session(request):
    """
    The session's authentication: every factor proven since the user signed in (sign-out clears
    allauth's record, sign_in.authentication_records), and auth_time when the latest was (OIDC
    Core §3.1.2.1: max_age counts from "the last time the End-User was actively authenticated").
    """
    records = sign_in.authentication_records(request)
    methods, factors = set(), set()
    for record in records:
        record_methods, record_factors = methods_and_factors(record)
        methods |= record_methods
        factors |= record_factors
    if len(factors) >= 2:
        methods.add("mfa")
    level = (multi_factor() if len(factors) >= 2 else single_factor()) if records else None
    return Authentication(tuple(sorted(methods)), level, sign_in.latest_authentication_time(records))


def has_second_factor(user):
    """Whether the user has enrolled a TOTP app or a WebAuthn key (recovery codes come with one)."""
    return is_mfa_enabled(user, types=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def second_factor_page(request):
    """
    allauth's MFA reauthentication page for the user's second factor, from the adapter's list of
    reauthentication methods: its code page for an authenticator app, else its WebAuthn page
    (rather than spend a recovery code on the code page); each links the others.
    """
    pages = {
        method["id"]: method["url"]
        for method in get_account_adapter(request).get_reauthentication_methods(request.user)
    }
    if is_mfa_enabled(request.user, types=[Authenticator.Type.TOTP]):
        preference = ("mfa_reauthenticate", "mfa_reauthenticate:webauthn")
    else:
        preference = ("mfa_reauthenticate:webauthn", "mfa_reauthenticate")
    # None where ACCOUNT_REAUTHENTICATION_METHODS leaves "mfa" out.
    return next((pages[page] for page in preference if page in pages), None)


@dataclass(frozen=True)
class Request:
    """The levels an authorization request asks for, most preferred first (this server's only:
    others are ignored, as a voluntary request allows, OIDC Core §3.1.2.1), and the values of an
    essential acr claim (§5.5.1.1; None when acr is not essential, empty when it is without values)."""

    levels: tuple
    essential: tuple | None

    @classmethod
    def of(cls, acr_values, claims_request):
        """§3.1.2.1 `acr_values`, space-separated in order of preference, and §5.5.1.1 an `acr`
        member of the claims request's `id_token`: {"essential": ..., "value": ... or "values": [...]}."""
        asked = (acr_values or "").split()
        id_token = claims_request.get("id_token") if isinstance(claims_request, dict) else None
        acr = id_token.get("acr") if isinstance(id_token, dict) else None
        essential = None
        if isinstance(acr, dict):
            values = acr["values"] if isinstance(acr.get("values"), list) else [acr.get("value")]
            values = [value for value in values if isinstance(value, str)]
            asked += values
            if acr.get("essential") is True:
                essential = tuple(values)
        return cls(tuple(dict.fromkeys(level for level in asked if level in levels())), essential)

    def met_by(self, authentication):
        if self.essential is None:
            return True
        if not self.essential:
            return authentication.level is not None
        return any(level in levels() and authentication.meets(level) for level in self.essential)

    def reported_level(self, authentication):
        """The ID token's acr: one of the essential values where there are some (§5.5.1.1)."""
        return authentication.reported_level(self.essential or self.levels)


class Shortfall(enum.Enum):
    """What keeps an authorization request from going on with this session."""

    # The user has a second factor and is to use it: allauth's MFA reauthentication, then back.
    SECOND_FACTOR = "second factor"
    # The client requires multi-factor and the user has no second factor: enrol first.
    ENROLMENT = "enrolment"
    # An essential acr (OIDC Core §5.5.1.1) that this user cannot reach.
    UNMET = "unmet"


def shortfall(request, application, level_request, authentication):
    """None where the session may go on; otherwise what it lacks."""
    if get_adapter().requires_multi_factor(application) and not authentication.meets(multi_factor()):
        return Shortfall.SECOND_FACTOR if has_second_factor(request.user) else Shortfall.ENROLMENT
    preferred = level_request.levels[0] if level_request.levels else None
    if (
        preferred == multi_factor()
        and not authentication.meets(multi_factor())
        and has_second_factor(request.user)
    ):
        return Shortfall.SECOND_FACTOR
    if not level_request.met_by(authentication):
        return Shortfall.UNMET
    return None
