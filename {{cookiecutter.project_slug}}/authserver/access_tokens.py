# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
JWT access tokens (RFC 9068), with OAUTH_ACCESS_TOKEN_FORMAT=jwt: DOT's ACCESS_TOKEN_GENERATOR.

Signed with the ID tokens' active key (signing_keys.py), RS256, `kid` its JWK thumbprint as the
JWKS publishes it, so a resource server verifies them from /o/.well-known/jwks.json alone, also
across a key rotation. Stored hashed like any token, so introspection and revocation work on them;
but a resource server that only checks the signature accepts a revoked token until its `exp`
(docs/mcp.md).
"""

import time
import uuid

from jwcrypto import jwk, jwt
from oauth2_provider.models import get_grant_model
from oauth2_provider.settings import oauth2_settings

from .adapter import get_adapter


def bound_resources(request):
    """RFC 8707 §2.2: the resources the token is for, as DOT will store them on it: the request's,
    else its code's or refresh token's (resources.py has checked them all)."""
    named = [value for name, value in request.decoded_body or [] if name == "resource"]
    if named:
        return named
    if request.grant_type == "authorization_code":
        grant = get_grant_model().objects.filter(code=request.code).first()
        return list(grant.resource) if grant else []
    refresh_token = getattr(request, "refresh_token_instance", None)
    return list(refresh_token.resource) if request.grant_type == "refresh_token" and refresh_token else []


def generate(request):
    """An RFC 9068 §2 access token for the token request being answered."""
    issuer = oauth2_settings.oidc_issuer(request)
    now = int(time.time())
    user = request.user if request.grant_type != "client_credentials" else None
    client_id = request.client.client_id
    claims = {
        "iss": issuer,
        # §3: a token for no resource in particular is for this server's own resources.
        "aud": bound_resources(request) or issuer,
        "exp": now + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
        "iat": now,
        "jti": uuid.uuid4().hex,
        # §2.2: the user, or with no user (client credentials) the client itself.
        "sub": get_adapter().subject(user) if user is not None else client_id,
        "client_id": client_id,
        "scope": " ".join(request.scopes or []),
    }
    key = jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode())
    # §2.1: typ at+jwt, so that no ID token passes for an access token, or the other way round.
    token = jwt.JWT(header={"alg": "RS256", "typ": "at+jwt", "kid": key.thumbprint()}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()
