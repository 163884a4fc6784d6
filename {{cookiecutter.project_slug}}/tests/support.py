"""
What the tests share: the values and helpers they import from here (the fixtures, which pytest
hands them by name, are in conftest.py). Import what you need: `from .support import query_of`.
"""

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from jwcrypto import jwk, jwt

DEMO_REDIRECT_URI = "http://127.0.0.1:8000/demo/callback/"


PASSWORD = "a-Long-test-password-42"


# allauth's page where a signed-in user proves again it is them (prompt=login, max_age).
REAUTHENTICATE = "/accounts/reauthenticate/"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    @property
    def basic_auth(self):
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def make_pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class AuthorizationRequest:
    """One authorization-code request with PKCE, as a relying party would build it."""

    client_id: str
    scope: str = "openid profile email read"
    redirect_uri: str = DEMO_REDIRECT_URI

    def __post_init__(self):
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        self.code_verifier, self.code_challenge = make_pkce_pair()

    @property
    def params(self):
        return {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }

    @property
    def url(self):
        return "/o/authorize/?" + urlencode(self.params)


def verify_id_token(client, id_token):
    """The claims of an ID token whose RS256 signature the server's JWKS verifies."""
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    token = jwt.JWT(jwt=id_token, key=keys, algs=["RS256"])
    return json.loads(token.claims)


def query_of(location):
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


ISSUER = "http://testserver"


OTHER_REDIRECT_URI = "http://127.0.0.1:8000/other/callback/"


def token_request(client, credentials, **data):
    return client.post("/o/token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


def api_me_status(client, access_token):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def register_client(application_model, secret, **fields):
    """A confidential client with that secret; return its Credentials."""
    application = application_model.objects.create(
        client_type=application_model.CLIENT_CONFIDENTIAL, client_secret=secret, **fields
    )
    return Credentials(application.client_id, secret)


def sign_in_through_the_form(client, user):
    """Sign in as a browser does: the sign-in page's CSRF cookie, then its form (allauth records
    the sign-in in the session: auth_time)."""
    client.get("/accounts/login/")
    csrf_token = client.cookies[settings.CSRF_COOKIE_NAME].value
    answer = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token}
    )
    assert answer.status_code == 302, answer.content


def authorize_with(client, request, **extra):
    return client.get("/o/authorize/", {**request.params, **extra})


def assert_error_sent_to_the_client(response, request, error, description=""):
    """RFC 6749 §4.1.2.1 and RFC 9207 §2: a redirect to the client with the error, its state and iss,
    and an error_description containing `description` where one is expected."""
    assert response.status_code == 302
    assert response["Location"].startswith(request.redirect_uri)
    query = query_of(response["Location"])
    assert description in query.pop("error_description", "")
    assert query == {"error": error, "state": request.state, "iss": ISSUER}


def signed_in_long_ago(client, user, long_ago):
    """Make the session's sign-in (allauth's records of it, OIDC Core §2 auth_time) and last_login `long_ago`."""
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    assert records, "the session has no record of its sign-in"
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {**record, "at": long_ago.timestamp()} for record in records
    ]
    session.save()
    type(user).objects.filter(pk=user.pk).update(last_login=long_ago)


def sign_in_again(client, user, location):
    """Re-authenticate where the server sent a signed-in user (allauth's page: the password again);
    return where it continues."""
    assert location.startswith(REAUTHENTICATE), location
    assert client.get(location).status_code == 200
    next_url = query_of(location)["next"]
    response = client.post(location, {"password": PASSWORD})
    assert response.status_code == 302, response.content
    assert response["Location"] == next_url
    return next_url


def consent_and_exchange(client, request, exchange):
    code = query_of(client.post(request.url, {**request.params, "allow": "Authorize"})["Location"])["code"]
    return verify_id_token(client, exchange(request, code).json()["id_token"])


def revoke(client, credentials, **data):
    return client.post("/o/revoke_token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


class AuthenticatorApp:
    """An authenticator app set up with `secret`: the codes it shows (RFC 6238: the HOTP of the
    30-second time step), by allauth's HOTP function.

    The server accepts a code during its own step only (MFA_TOTP_TOLERANCE is 0) and once (RFC 6238
    §5.2, authserver/accounts.py). So each code this gives is of a later step than the one before
    (a test that gave one code and wants another waits for the next step), and with at least
    `margin` seconds of its step left, so the step has not ended when the server checks the code.
    """

    def __init__(self, secret):
        self.secret = secret
        self.step = None  # the step of the latest code given

    def code(self, margin=2.0):
        period = mfa_settings.TOTP_PERIOD
        while True:
            now = time.time()
            step, left = int(now) // period, period - now % period
            if (self.step is None or step > self.step) and left >= margin:
                break
            time.sleep(left)  # to the start of the next step
        self.step = step
        return format_hotp_value(hotp_value(self.secret, step))

    def step_now(self):
        """The current step: still that of the latest code, while that code is valid."""
        return int(time.time()) // mfa_settings.TOTP_PERIOD


def client_credentials_token(client, m2m_client, scope):
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=m2m_client.basic_auth,
    )
    return response.json()["access_token"]


# The device flow (RFC 8628), as a device and its user drive it.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def start_device_flow(client, client_id="tv-app", **data):
    """The device asks for its codes (§3.1): a form-encoded POST (the test client would send multipart)."""
    body = urlencode({"client_id": client_id, "scope": "read", **data})
    return client.post("/o/device-authorization/", body, content_type="application/x-www-form-urlencoded")


def poll_for_device_token(client, device_code, client_id="tv-app", **data):
    """The device polls the token endpoint (§3.4)."""
    data = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "client_id": client_id, **data}
    return client.post("/o/token/", data)


def enter_user_code(client, user_code, address="192.0.2.1"):
    """The user enters the code on the device page (§3.3)."""
    return client.post("/o/device/", {"user_code": user_code}, REMOTE_ADDR=address)
