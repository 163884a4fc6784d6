"""The authorization code flow against a live baked server, for tests that need a code or tokens,
and the checks a relying party makes of an ID token."""

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet

from .live import checked, query_of, sign_in, submit

DEFAULT_SCOPE = "openid profile email read"


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_params(env_values, scope=DEFAULT_SCOPE, state="live-state", nonce="live-nonce"):
    """A PKCE authorization request of the seeded demo client: (params, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": env_values["OAUTH_DEMO_CLIENT_ID"],
        "redirect_uri": env_values["OAUTH_DEMO_REDIRECT_URI"],
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return params, verifier


def sign_in_and_consent(base_url, env_values, params):
    """In a fresh session, sign in as the admin and allow; return (the redirect's query, the consent page)."""
    browser = checked()
    login_page = browser.get(f"{base_url}/o/authorize/?{urlencode(params)}")
    consent_page = sign_in(browser, login_page, env_values)
    assert consent_page.status_code == 200, consent_page.text[:3000]
    # The demo client's redirect URI is not on the live server: read the redirect, do not follow it.
    answer = submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False)
    assert answer.status_code == 302, answer.text[:3000]
    return query_of(answer.headers["Location"]), consent_page


def authorize(base_url, env_values, scope=DEFAULT_SCOPE):
    """Sign in and consent; return (code, code_verifier, redirect_uri)."""
    params, verifier = authorization_params(env_values, scope=scope)
    answer, _ = sign_in_and_consent(base_url, env_values, params)
    return answer["code"], verifier, params["redirect_uri"]


def token_request(base_url, env_values, **form):
    """POST `form` to the token endpoint as the demo client (HTTP Basic); return the response."""
    credentials = (env_values["OAUTH_DEMO_CLIENT_ID"], env_values["OAUTH_DEMO_CLIENT_SECRET"])
    return checked().post(f"{base_url}/o/token/", data=form, auth=credentials, timeout=60)


def demo_client(metadata, env_values, scope=DEFAULT_SCOPE, **options):
    """The seeded confidential web client, as Authlib's session, asking for `scope`."""
    return checked(
        OAuth2Session(
            env_values["OAUTH_DEMO_CLIENT_ID"],
            env_values["OAUTH_DEMO_CLIENT_SECRET"],
            scope=scope,
            redirect_uri=env_values["OAUTH_DEMO_REDIRECT_URI"],
            code_challenge_method="S256",
            token_endpoint=metadata["token_endpoint"],
            **options,
        )
    )


def verified_id_token_claims(metadata, client_id, token, nonce):
    """OIDC Core 1.0 §3.1.3.7: signature against the published JWKS, then iss, aud, nonce, exp, iat."""
    keys = KeySet.import_key_set(checked().get(metadata["jwks_uri"]).json())
    id_token = jwt.decode(
        token["id_token"], keys, algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(id_token.claims)
    # §3.1.3.8: at_hash binds the ID token to the access token issued with it.
    at_hash = create_half_hash(token["access_token"], id_token.header["alg"]).decode()
    assert id_token.claims["at_hash"] == at_hash
    return id_token.claims
