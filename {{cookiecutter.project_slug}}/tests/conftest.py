import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from jwcrypto import jwk, jwt
from oauth2_provider.models import get_application_model

DEMO_REDIRECT_URI = "http://127.0.0.1:8000/demo/callback/"
PASSWORD = "a-Long-test-password-42"
# allauth's page where a signed-in user proves again it is them (prompt=login, max_age).
REAUTHENTICATE = "/accounts/reauthenticate/"


def project_module(name):
    """A module of the project's package, e.g. project_module("oauth.signing_keys")."""
    return import_module(f"{settings.PROJECT_PACKAGE}.{name}")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    @property
    def basic_auth(self):
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Every test signs in and fails from 127.0.0.1: each starts with no failures counted."""
    cache.clear()


@pytest.fixture
def client_env(monkeypatch):
    """The .env values the seed command reads, fresh for each test."""
    values = {
        "OAUTH_DEMO_CLIENT_ID": "demo-" + secrets.token_hex(8),
        "OAUTH_DEMO_CLIENT_SECRET": secrets.token_urlsafe(48),
        "OAUTH_DEMO_REDIRECT_URI": DEMO_REDIRECT_URI,
        "OAUTH_M2M_CLIENT_ID": "m2m-" + secrets.token_hex(8),
        "OAUTH_M2M_CLIENT_SECRET": secrets.token_urlsafe(48),
        # Empty: the seed's defaults, from the test settings' scopes whatever .env lists.
        "OAUTH_DEMO_ALLOWED_SCOPES": "",
        "OAUTH_M2M_ALLOWED_SCOPES": "",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def seeded(db, client_env):
    call_command("seed_oauth_clients", verbosity=0)
    return client_env


@pytest.fixture
def demo_client(seeded):
    return Credentials(seeded["OAUTH_DEMO_CLIENT_ID"], seeded["OAUTH_DEMO_CLIENT_SECRET"])


@pytest.fixture
def m2m_client(seeded):
    return Credentials(seeded["OAUTH_M2M_CLIENT_ID"], seeded["OAUTH_M2M_CLIENT_SECRET"])


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice",
        email="alice@example.com",
        password=PASSWORD,
        first_name="Alice",
        last_name="Liddell",
    )


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


@pytest.fixture
def authorize(client, user, demo_client):
    """Sign in through the login form, approve on the consent page, return (request, code)."""

    def run(scope="openid profile email read"):
        request = AuthorizationRequest(demo_client.client_id, scope=scope)
        login = client.post(
            "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url}
        )
        assert login.status_code == 302, login.content
        consent = client.get(login["Location"])
        assert consent.status_code == 200
        approved = client.post(request.url, {**request.params, "allow": "Authorize"})
        assert approved.status_code == 302
        answer = query_of(approved["Location"])
        assert answer["state"] == request.state
        return request, answer["code"]

    return run


@pytest.fixture
def exchange(client, demo_client):
    """Redeem an authorization code at the token endpoint."""

    def run(request, code, **overrides):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
            **overrides,
        }
        return client.post("/o/token/", data, HTTP_AUTHORIZATION=demo_client.basic_auth)

    return run


@pytest.fixture
def application_model():
    return get_application_model()


ISSUER = "http://testserver"
OTHER_REDIRECT_URI = "http://127.0.0.1:8000/other/callback/"


def token_request(client, credentials, **data):
    return client.post("/o/token/", data, HTTP_AUTHORIZATION=credentials.basic_auth)


def api_me_status(client, access_token):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


@pytest.fixture
def demo_application(application_model, demo_client):
    return application_model.objects.get(client_id=demo_client.client_id)


def register_client(application_model, secret, **fields):
    """A confidential client with that secret; return its Credentials."""
    application = application_model.objects.create(
        client_type=application_model.CLIENT_CONFIDENTIAL, client_secret=secret, **fields
    )
    return Credentials(application.client_id, secret)


@pytest.fixture
def other_client(application_model, seeded):
    """A second authorization-code client with the demo client's redirect URI."""
    return register_client(
        application_model,
        "other-client-secret-" + "x" * 40,
        name="other app",
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=DEMO_REDIRECT_URI,
        algorithm=application_model.RS256_ALGORITHM,
    )


def sign_in_through_the_form(client, user):
    """Sign in as a browser does: the sign-in page's CSRF cookie, then its form (allauth records
    the sign-in in the session: auth_time)."""
    client.get("/accounts/login/")
    csrf_token = client.cookies[settings.CSRF_COOKIE_NAME].value
    answer = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token}
    )
    assert answer.status_code == 302, answer.content


@pytest.fixture
def signed_in(client, user):
    sign_in_through_the_form(client, user)
    return user


def authorize_with(client, request, **extra):
    return client.get("/o/authorize/", {**request.params, **extra})


def assert_error_sent_to_the_client(response, request, error):
    """RFC 6749 §4.1.2.1 and RFC 9207 §2: a redirect to the client with the error, its state and iss."""
    assert response.status_code == 302
    assert response["Location"].startswith(request.redirect_uri)
    assert query_of(response["Location"]) == {"error": error, "state": request.state, "iss": ISSUER}


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
