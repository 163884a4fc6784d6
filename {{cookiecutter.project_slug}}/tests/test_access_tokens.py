"""Access tokens: opaque by default; JWTs (RFC 9068) with OAUTH_ACCESS_TOKEN_FORMAT=jwt."""

import json

import pytest
from django.conf import settings
from django.test import override_settings
from jwcrypto import jwk, jwt
from oauth2_provider.views.mixins import OAuthLibMixin

from .support import ISSUER, revoke, token_request

API = "https://api.example.com/"


def forget_oauthlib_cores(cls=OAuthLibMixin):
    """DOT keeps each view's oauthlib server, built from the settings of its first request."""
    for view in cls.__subclasses__():
        vars(view).get("_oauthlib_core") and delattr(view, "_oauthlib_core")
        forget_oauthlib_cores(view)


@pytest.fixture
def jwt_access_tokens():
    jwt_settings = {
        **settings.OAUTH2_PROVIDER,
        "ACCESS_TOKEN_GENERATOR": settings.ACCESS_TOKEN_GENERATORS["jwt"],
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    with override_settings(OAUTH2_PROVIDER=jwt_settings):
        yield
    forget_oauthlib_cores()


def verified(client, token):
    """The header and claims of a JWT whose signature the JWKS alone verifies."""
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    verified_token = jwt.JWT(jwt=token, key=keys, algs=["RS256"], expected_type="JWS")
    return verified_token.token.jose_header, json.loads(verified_token.claims)


def introspect(client, credentials, token):
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=credentials.basic_auth).json()


def test_access_tokens_are_opaque_by_default(client, m2m_client):
    assert settings.OAUTH_ACCESS_TOKEN_FORMAT == "opaque"
    assert settings.OAUTH2_PROVIDER["ACCESS_TOKEN_GENERATOR"] is None
    token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
    assert "." not in token


def test_a_jwt_access_token_carries_the_claims_of_rfc_9068(client, m2m_client, jwt_access_tokens):
    """RFC 9068 §2.1-2.2: typ at+jwt, RS256 with the JWKS key's kid; iss, exp, aud, sub, client_id,
    iat, jti, scope; sub is the client itself under client credentials; aud the bound resource."""
    answer = token_request(client, m2m_client, grant_type="client_credentials", scope="read", resource=API)
    assert answer.status_code == 200, answer.content
    header, claims = verified(client, answer.json()["access_token"])
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert (header["typ"], header["alg"], header["kid"]) == ("at+jwt", "RS256", keys[0]["kid"])
    assert {"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"} <= set(claims)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == [API]
    assert claims["sub"] == claims["client_id"] == m2m_client.client_id
    assert claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]


def test_a_users_jwt_access_token_speaks_for_the_user(client, user, authorize, exchange, jwt_access_tokens):
    """RFC 9068 §2.2: sub is the user's (as in the ID token); with no resource, aud is this server,
    whose resources accept it; the refresh token stays opaque and its tokens keep the audience."""
    tokens = exchange(*authorize("openid read")).json()
    _header, claims = verified(client, tokens["access_token"])
    assert claims["sub"] == str(user.sub)
    assert claims["aud"] == ISSUER
    assert "." not in tokens["refresh_token"]
    me = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert me.status_code == 200
    assert me.json()["user"]["sub"] == claims["sub"]


def test_jwt_access_tokens_are_introspected_and_revoked(client, m2m_client, jwt_access_tokens):
    """Stored hashed like opaque ones (RFC 7662, RFC 7009): revoked, inactive and refused."""
    token = token_request(client, m2m_client, grant_type="client_credentials", scope="read").json()[
        "access_token"
    ]
    answer = introspect(client, m2m_client, token)
    assert (answer["active"], answer["client_id"]) == (True, m2m_client.client_id)
    assert revoke(client, m2m_client, token=token).status_code == 200
    assert introspect(client, m2m_client, token) == {"active": False}
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_jwt_access_tokens_follow_a_key_rotation(client, m2m_client, jwt_access_tokens, tmp_path):
    """Signed with the active key of the JWKS; after a rotation, by the new one's kid."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    old = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rotated = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": new.decode(),
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old],
    }
    with override_settings(OAUTH2_PROVIDER=rotated):
        token = token_request(client, m2m_client, grant_type="client_credentials").json()["access_token"]
        header, _claims = verified(client, token)
    assert header["kid"] == jwk.JWK.from_pem(new).thumbprint()


def test_an_id_token_is_no_access_token(client, authorize, exchange):
    """OIDC Core §2: an ID token's audience is the client; oauthlib took one shaped like a JWT for a
    bearer token and DOT accepted it at UserInfo and resources."""
    id_token = exchange(*authorize("openid read")).json()["id_token"]
    for path in ("/api/me/", "/o/userinfo/"):
        assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {id_token}").status_code == 401, path
