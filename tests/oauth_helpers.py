"""The authorization code flow against a live baked server, for tests that need a code or tokens."""

import base64
import hashlib
import secrets
from urllib.parse import urlencode

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
