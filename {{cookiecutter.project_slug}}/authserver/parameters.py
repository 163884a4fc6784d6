# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Checks on the parameters of authorization, token and device requests that oauthlib leaves out,
run as its custom validators (server.py) before anything is validated or stored: bounded
lengths, no NUL, de-duplicated scopes, and PKCE's exact forms (RFC 7636).
"""

import re

from oauthlib.oauth2.rfc6749 import errors

# The longest value the server accepts for each parameter it stores or sends back, in
# characters: far above what a real client sends, far below what fills a database row or a
# redirect's Location header. Longer is invalid_request (RFC 6749 §4.1.2.1, §5.2). The nonce's
# is DOT's column (Grant.nonce); the code_challenge and code_verifier also have RFC 7636's
# exact form (below).
PARAMETER_LIMITS = {
    "scope": 1024,
    "state": 2048,
    "nonce": 255,
    "redirect_uri": 2048,
    "claims": 4096,
    "resource": 2048,
    "code_challenge": 128,
    "code_verifier": 128,
}
# RFC 8707 §2: a client may name several resources; no client names more than this many.
MAX_RESOURCES = 10

# RFC 7636 §4.1: a code_verifier is 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# RFC 7636 §4.2: an S256 code_challenge is BASE64URL(SHA256(verifier)) without padding: 43 characters.
S256_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def has_nul(*values):
    """RFC 6749 Appendix A: parameter values are printable. No stored value holds a NUL, and
    PostgreSQL cannot even compare one (psycopg 3 raises DataError: a 500)."""
    return any(value and "\x00" in value for value in values)


def check_parameter_limits(request):
    """Refuse a parameter with a NUL (RFC 6749 Appendix A) or longer than PARAMETER_LIMITS allows,
    and de-duplicate the scope.

    Returns the empty dict oauthlib's hooks may return."""
    try:
        pairs = [*request.uri_query_params, *(request.decoded_body or [])]
    except ValueError as error:
        raise errors.InvalidRequestError("Unreadable parameters.", request=request) from error
    for name, value in pairs:
        if has_nul(value):
            # A NUL in the client_id would reach the database, where PostgreSQL cannot compare it.
            raise errors.InvalidRequestError(f"NUL in {name}.", request=request)
        limit = PARAMETER_LIMITS.get(name)
        if limit is not None and len(value) > limit:
            if name == "state":
                # RFC 6749 §4.1.2.1 echoes the state with the error: not one this long.
                request.state = None
            raise errors.InvalidRequestError(f"{name} is longer than {limit} characters.", request=request)
    if sum(name == "resource" for name, _ in pairs) > MAX_RESOURCES:
        raise errors.InvalidRequestError(f"More than {MAX_RESOURCES} resource parameters.", request=request)
    # RFC 6749 §3.3: the scope is a set; "read read" is stored and granted as "read".
    if request.scope:
        request.scope = " ".join(dict.fromkeys(request.scope.split()))
    if request.scopes:
        request.scopes = list(dict.fromkeys(request.scopes))
    return {}


def check_code_challenge(request):
    """RFC 9700 §2.1.1: S256 only, and RFC 7636 §4.4.1: a malformed challenge is invalid_request,
    both when the request arrives, before the user is asked to consent (DOT alone refuses
    "plain" only after consent, when the code is created). A challenge without a method is
    "plain" (RFC 7636 §4.3)."""
    if request.code_challenge is None:
        return {}
    if (request.code_challenge_method or "plain") != "S256":
        raise errors.UnsupportedCodeChallengeMethodError(request=request)
    if not S256_CODE_CHALLENGE.fullmatch(request.code_challenge):
        raise errors.InvalidRequestError(
            "code_challenge is not an S256 challenge: 43 base64url characters.", request=request
        )
    return {}


def check_code_verifier(request):
    """RFC 7636 §4.1 with RFC 6749 §5.2: a verifier of the wrong form is a malformed request,
    invalid_request; invalid_grant (§4.6) is for a well-formed one that does not match."""
    if request.code_verifier is not None and not CODE_VERIFIER.fullmatch(request.code_verifier):
        raise errors.InvalidRequestError(
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~.", request=request
        )


def check_body_only(request):
    """RFC 6749 §3.2, as oauthlib's token, revocation and introspection endpoints do: a POST's
    parameters travel in the body, never the URL's query (which ends up in logs)."""
    if request.http_method.upper() == "POST" and request.uri_query:
        raise errors.InvalidRequestError("URL query parameters are not allowed.", request=request)
