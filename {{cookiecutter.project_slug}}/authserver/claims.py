# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The claims released about a user (OpenID Connect Core 1.0 §5), in the ID token and at UserInfo,
and the `claims` request parameter that asks for them (§5.5).

Which claims a user has, and which scope releases each, is the adapter's to say
(ServerAdapter.claims, .claim_scopes, .subject: authserver/adapter.py); DOT releases each only
with its scope (OIDC Core §5.4). Here: what the ID token and UserInfo make of them.

A claims request picks among the claims of the granted scopes, never beyond them: the user
consented to scopes. Its `id_token` member shapes the ID token (for_the_id_token); its
`userinfo` member adds to the claims of the scopes at UserInfo (§5.5), which hold all of those
already, so UserInfo needs nothing kept from the authorization request.
"""

import json

from oauthlib.oauth2.rfc6749 import errors

# The members of a claims request (§5.5) this server acts on; others are ignored, as §5.5 says.
CLAIMS_REQUEST_MEMBERS = ("id_token", "userinfo")


def with_values(released):
    """§5.3.2: a claim without a value is omitted, not present with a null or empty value."""
    return {name: value for name, value in released.items() if value is not None}


def for_the_id_token(released, claims_request):
    """
    §5.5: an `id_token` member of the claims request lists the claims about the user to add to
    the ID token's defaults, which are protocol claims only (§2): the ID token then carries
    `sub` and the listed claims the scopes allow. Without one, DOT's default: every claim the
    scopes allow, as relying parties that read the ID token alone expect.

    At the token endpoint DOT sets request.claims from the code's grant, a dict checked when the
    authorization request arrived; any other value is a `claims` parameter of the token request
    itself, which OIDC does not define, so it is ignored.
    """
    asked = claims_request.get("id_token") if isinstance(claims_request, dict) else None
    if asked is None:
        return with_values(released)
    return with_values({name: value for name, value in released.items() if name == "sub" or name in asked})


def requested_sub(claims_request):
    """§5.5.1: the `sub` value the ID token is asked for, if any."""
    if not isinstance(claims_request, dict):
        return None
    sub = (claims_request.get("id_token") or {}).get("sub")
    return sub.get("value") if isinstance(sub, dict) else None


def is_claims_request(claims_request):
    """§5.5, §5.5.1: a JSON object whose members are JSON objects of claim names, each null or
    a JSON object with an optional boolean `essential`, a `value` or an array of `values`."""
    if not isinstance(claims_request, dict):
        return False
    for member in CLAIMS_REQUEST_MEMBERS:
        asked = claims_request.get(member, {})
        if not isinstance(asked, dict):
            return False
        for wanted in asked.values():
            if wanted is None:
                continue
            if not isinstance(wanted, dict):
                return False
            if not isinstance(wanted.get("essential", False), bool):
                return False
            if not isinstance(wanted.get("values", []), list):
                return False
    return True


def parse_claims_request(request):
    """
    The `claims` parameter of an OpenID authorization request, parsed, or `invalid_request`
    at the redirect URI (OIDC Core §3.1.2.6). oauthlib's own parsing raises its error without
    the request, so the answer would lose its state and redirect URI; and it takes any JSON.
    An oauthlib pre-authorization validator (server.py): it runs once the client and redirect
    URI are known, on the request and again on the consent form's answer.
    """
    # RFC 6749 §3.1: a parameter without a value is as if omitted.
    if not request.claims or isinstance(request.claims, dict):
        return {}
    try:
        claims_request = json.loads(request.claims)
        # DOT's consent form carries no claims request on as JSON null.
        well_formed = claims_request is None or is_claims_request(claims_request)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
        well_formed = False
    if not well_formed:
        raise errors.InvalidRequestError(
            description="claims is not a claims request (OpenID Connect Core 1.0 §5.5).", request=request
        )
    request.claims = claims_request
    return {}
