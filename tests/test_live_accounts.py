"""
The accounts (django-allauth) in Debian's Chromium against a live baked server, as people use
them: password reset by an e-mail that a real SMTP server on loopback receives (its link on the
issuer whatever Host the request named), the e-mail page refusing another account's address, TOTP enrolment
and sign-in with codes computed here (RFC 6238), a passkey registered and used with Chromium's
virtual authenticator (WebAuthn Level 2, through the DevTools protocol), recovery codes, and the
sessions page signing another browser out. A password change or "sign out other sessions" revokes
what the other sign-ins granted clients: their refresh grants answer invalid_grant.

Each test is a different person (made with `manage.py shell` on this module's own server), so
that no factor one enrols changes another test, or the admin the other live tests sign in as.
Every page is screenshotted into test-artifacts/ and must load without a Content-Security-Policy
violation.
"""

import email
import email.policy
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from aiosmtpd.controller import Controller
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from .live import ARTIFACTS, check_accessibility, checked, discover, register_client
from .oauth_helpers import verified_id_token_claims
from .support import free_port, running_server, runserver_command, venv_manage

pytestmark = pytest.mark.slow

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
PASSWORD_RESET = "/accounts/password/reset/"
MFA_INDEX = "/accounts/2fa/"
MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
TOTP_ACTIVATE = "/accounts/2fa/totp/activate/"
RECOVERY_CODES = "/accounts/2fa/recovery-codes/"
WEBAUTHN_ADD = "/accounts/2fa/webauthn/add/"
WEBAUTHN_LIST = "/accounts/2fa/webauthn/"
SESSIONS = "/accounts/sessions/"
PASSWORD_CHANGE = "/accounts/password/change/"
EMAIL = "/accounts/email/"
REAUTHENTICATE = "/accounts/reauthenticate/"
MFA_REAUTHENTICATE = "/accounts/2fa/reauthenticate/"
SIGNUP = "/accounts/signup/"
TOTP_DEACTIVATE = "/accounts/2fa/totp/deactivate/"
RECOVERY_CODES_GENERATE = "/accounts/2fa/recovery-codes/generate/"
WEBAUTHN_REAUTHENTICATE = "/accounts/2fa/webauthn/reauthenticate/"
CONSENTS = "/accounts/consents/"

# The acr levels the server names (acr_values_supported; authserver/authentication_context.py).
SINGLE_FACTOR, MULTI_FACTOR = "single-factor", "multi-factor"


# --- A real SMTP server on loopback: the server under test sends its e-mail here (EMAIL_URL).


class Mailbox:
    """An aiosmtpd handler that keeps every message it is sent, for a test to wait for."""

    def __init__(self):
        self.messages = []
        self.arrived = threading.Condition()
        self.url = ""

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append((envelope.rcpt_tos, message))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, recipient, timeout=15):
        """The first message sent to `recipient`; fails the test if none arrives in time."""

        def addressed():
            return next((message for to, message in self.messages if recipient in to), None)

        with self.arrived:
            message = self.arrived.wait_for(addressed, timeout=timeout)
        assert message is not None, f"No e-mail to {recipient} within {timeout} s; got {len(self.messages)}"
        return message


@pytest.fixture(scope="module")
def mailbox():
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


# --- This module's own live server: its e-mail goes to the mailbox above, its database is a copy.


@pytest.fixture(scope="module")
def accounts_database_env(project, tmp_path_factory):
    """A copy of the baked project's SQLite database (migrated, the admin and the seeded clients
    in it) for this module's server alone: the people, factors and clients made here change no
    other test's server."""
    path = tmp_path_factory.mktemp("accounts") / "db.sqlite3"
    with sqlite3.connect(project / "db.sqlite3") as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    return {"DATABASE_URL": f"sqlite:///{path}"}


@pytest.fixture(scope="module")
def accounts_server(project, mailbox, accounts_database_env):
    """`manage.py runserver` sending e-mail over SMTP to `mailbox`, reached as localhost: a
    WebAuthn relying party ID is a domain, never an IP address (WebAuthn Level 2 §5.1.3)."""
    port = free_port()
    with running_server(
        project,
        runserver_command(project, port),
        f"http://localhost:{port}",
        EMAIL_URL=mailbox.url,
        **accounts_database_env,
    ) as url:
        yield url


# --- The people: one per test, with a verified e-mail address, as an admin would invite them.


@dataclass
class Person:
    username: str
    email: str
    password: str
    totp_secret: str = ""
    # An invited person who has not yet proved their address is False.
    verified: bool = True


MAKE_PEOPLE = """
import json, os
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
for person in json.loads(os.environ["LIVE_ACCOUNTS_PEOPLE"]):
    user = get_user_model().objects.create_user(person["username"], person["email"], person["password"])
    EmailAddress.objects.create(user=user, email=person["email"], verified=person["verified"], primary=True)
    if person["totp_secret"]:
        TOTP.activate(user, person["totp_secret"])
"""

# Who each test is. Those with an authenticator app already enrolled are marked True.
PEOPLE = {
    "reset": False,
    "totp": False,
    "recovery": False,
    "passkey": False,
    "sessions": False,
    "password_change": False,
    "oidc_password": False,
    "oidc_totp": True,
    "step_up": False,
    "strict_client": False,
    "email_claim": False,
    "reset_host": False,
    "pages": False,
}
# Who has not proved their address.
UNVERIFIED = {"email_claim"}


@pytest.fixture(scope="module")
def people(project, accounts_server, accounts_database_env):
    """Every test's person, made in one `manage.py shell` (each one costs a Django start-up)."""
    tag = secrets.token_hex(3)
    made = {
        role: Person(
            username=f"{role}-{tag}",
            email=f"{role}-{tag}@example.test",
            password=secrets.token_urlsafe(16),
            totp_secret=pyotp.random_base32() if has_totp else "",
            verified=role not in UNVERIFIED,
        )
        for role, has_totp in PEOPLE.items()
    }
    venv_manage(
        project,
        "shell",
        "-c",
        MAKE_PEOPLE,
        LIVE_ACCOUNTS_PEOPLE=json.dumps([vars(person) for person in made.values()]),
        **accounts_database_env,
    )
    return made


# --- The browser: fresh contexts (a new profile each), watched for CSP violations.


class Browser:
    """Opens pages in new browser contexts; remembers every server error, CSP violation and
    console error."""

    def __init__(self, chromium, base_url):
        self.chromium = chromium
        self.base_url = base_url
        self.contexts = []
        self.server_errors = []
        self.csp_violations = []
        self.console_errors = []

    def new_page(self):
        context = self.chromium.new_context()
        context.on("console", self.listen)
        context.on("response", self.check_status)
        self.contexts.append(context)
        return context.new_page()

    def check_status(self, response):
        if response.status >= 500:
            self.server_errors.append(f"{response.request.method} {response.url}: {response.status}")

    def listen(self, message):
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{message.page.url if message.page else ''}: {message.text}")
        elif message.type == "error":
            self.console_errors.append(message.text)

    def shows(self, page, name):
        """A screenshot of the page as it is now, which must have loaded within the CSP."""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"accounts-{name}.png", full_page=True)
        assert self.server_errors == [], self.server_errors
        assert self.csp_violations == [], self.csp_violations

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browser(chromium, accounts_server):
    opened = Browser(chromium, accounts_server)
    yield opened
    opened.close()
    assert opened.server_errors == [], opened.server_errors
    assert opened.csp_violations == [], opened.csp_violations


def path_of(page):
    return urlsplit(page.url).path


def main_button(page, name):
    """The button of the page's main content with that label (the header has its own)."""
    return page.locator("main").get_by_role("button", name=re.compile(rf"^\s*{name}\s*$", re.IGNORECASE))


def signed_in_user(browser, page):
    """Whom the site's header says `page`'s browser is signed in as (None when signed out), read
    from another tab of the same browser so that `page` stays where it is."""
    tab = page.context.new_page()
    try:
        tab.goto(f"{browser.base_url}/")
        found = re.search(r"Signed in as\s+(\S+)", tab.locator("header").inner_text())
        return found.group(1) if found else None
    finally:
        tab.close()


def fill_login_form(browser, page, person, password=None, name="login"):
    """The sign-in page's form filled in and sent with the person's user name and password."""
    assert path_of(page) == LOGIN, page.url
    page.locator("input[name=login]").fill(person.username)
    page.locator("input[name=password]").fill(password or person.password)
    browser.shows(page, name)
    main_button(page, "Sign in").click()
    page.wait_for_load_state()


def sign_in_with_password(browser, page, person, password=None, name="login"):
    page.goto(f"{browser.base_url}{LOGIN}")
    fill_login_form(browser, page, person, password, name)


def send_code(browser, page, code, path, button, name):
    """An authenticator app's (or a recovery) code, typed on allauth's page at `path`."""
    assert path_of(page) == path, page.url
    page.locator("input[name=code]").fill(code)
    browser.shows(page, name)
    main_button(page, button).click()
    page.wait_for_load_state()


def enter_code(browser, page, code, name="mfa-authenticate"):
    """The second step of a sign-in."""
    send_code(browser, page, code, MFA_AUTHENTICATE, "Sign in", name)


def sign_out(browser, page):
    page.goto(f"{browser.base_url}{LOGOUT}")
    browser.shows(page, "logout")
    main_button(page, "Sign out").click()
    page.wait_for_load_state()
    assert signed_in_user(browser, page) is None


def open_sensitive_page(browser, page, person, path):
    """Open a page that changes how the person signs in: allauth first asks for the password
    again (its reauthentication), as it would ask a person at the keyboard."""
    page.goto(f"{browser.base_url}{path}")
    if path_of(page) == REAUTHENTICATE:
        page.locator("input[name=password]").fill(person.password)
        browser.shows(page, "reauthenticate")
        main_button(page, "Confirm").click()
        page.wait_for_load_state()
    assert path_of(page) == path, page.url


def form_error(page):
    return page.locator("main").inner_text()


# --- TOTP (RFC 6238): the codes an authenticator app would show.


def totp_of(secret):
    return pyotp.TOTP(secret)


def step_of(totp):
    return totp.timecode(time.time())


def fresh_code(totp, after_step=-1, seconds_to_spare=10):
    """The code of a step later than `after_step` with at least `seconds_to_spare` left in it
    (waiting for it, a step is 30 s); return (the code, its step)."""
    deadline = time.monotonic() + 2 * totp.interval
    while step_of(totp) <= after_step or totp.interval - time.time() % totp.interval < seconds_to_spare:
        assert time.monotonic() < deadline, "the TOTP clock never got there"
        time.sleep(0.2)
    return totp.now(), step_of(totp)


def activate_totp(browser, page, person):
    """Enrol an authenticator app from the MFA page; return (its secret, the step of the code
    the enrolment used)."""
    page.goto(f"{browser.base_url}{MFA_INDEX}")
    browser.shows(page, "mfa-index")
    open_sensitive_page(browser, page, person, TOTP_ACTIVATE)
    secret = page.locator("#authenticator_secret").input_value()
    assert len(secret) >= 16, secret  # base32 of 80 bits or more (RFC 4226 §4 R6)
    browser.shows(page, "totp-activate")
    code, step = fresh_code(totp_of(secret), seconds_to_spare=2)
    page.locator("input[name=code]").fill(code)
    main_button(page, "Activate").click()
    page.wait_for_load_state()
    assert path_of(page) != TOTP_ACTIVATE, form_error(page)
    return secret, step


def recovery_codes_shown(page):
    """The codes the recovery codes page shows (none when it shows them no more)."""
    codes = page.locator("#recovery_codes")
    if not codes.count():
        return []
    return [line.strip() for line in codes.input_value().splitlines() if line.strip() and "*" not in line]


# --- WebAuthn: Chromium's virtual authenticator, a platform authenticator with resident keys.

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    # Touches itself: no prompt waits for a person.
    "automaticPresenceSimulation": True,
}


class Authenticator:
    """A virtual authenticator in one page's browser context, reached through the DevTools protocol."""

    def __init__(self, page):
        self.devtools = page.context.new_cdp_session(page)
        self.devtools.send("WebAuthn.enable", {"enableUI": False})
        answer = self.devtools.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
        self.id = answer["authenticatorId"]

    def credentials(self):
        return self.devtools.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def add(self, credential):
        self.devtools.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})


# --- OpenID Connect: the relying parties, an authorization request, the ID token.


@dataclass
class RelyingParty:
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str


@pytest.fixture(scope="module")
def relying_parties(project, accounts_server, accounts_database_env):
    """Confidential web clients as an admin adds them: an ordinary one, one ticked "requires
    multi-factor", and one that may ask for the `email` scope. Their redirect URI is the
    server's own demo callback."""
    made = {}
    for key, name, requires_multi_factor, scopes in (
        ("ordinary", "Accounts test app", False, "openid"),
        ("strict", "Strict test app", True, "openid"),
        ("email", "E-mail test app", False, "openid email"),
        ("pages", "Pages test app", False, "openid profile email"),
    ):
        party = RelyingParty(
            f"live-accounts-{key}", secrets.token_urlsafe(48), f"{accounts_server}/demo/callback/", name
        )
        register_client(
            project,
            accounts_database_env,
            client_id=party.client_id,
            client_secret=party.client_secret,
            name=name,
            client_type="confidential",
            authorization_grant_type="authorization-code",
            redirect_uris=party.redirect_uri,
            algorithm="RS256",
            allowed_scopes=scopes,
            requires_multi_factor=requires_multi_factor,
        )
        made[key] = party
    return made


@dataclass
class Authorization:
    party: RelyingParty
    client: OAuth2Session
    metadata: dict
    state: str
    verifier: str
    nonce: str
    # The token response, once the code is traded.
    token: dict | None = None


def start_authorization(browser, page, party, scope="openid", **parameters):
    """Open the relying party's authorization request (code flow, PKCE S256, a nonce) in `page`."""
    metadata = discover(browser.base_url)
    client = checked(
        OAuth2Session(
            party.client_id,
            party.client_secret,
            scope=scope,
            redirect_uri=party.redirect_uri,
            code_challenge_method="S256",
            token_endpoint=metadata["token_endpoint"],
        )
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **parameters
    )
    page.goto(url)
    return Authorization(party, client, metadata, state, verifier, nonce)


def allow(browser, page, authorization, name="consent"):
    """Allow on the consent page; return the claims of the ID token the code is traded for,
    verified against the JWKS (OIDC Core §3.1.3.7)."""
    party = authorization.party
    page.get_by_role("heading", name=f"Allow {party.name} to access your account?").wait_for()
    browser.shows(page, name)
    main_button(page, "Allow").click()
    page.wait_for_url(f"{party.redirect_uri}?*")
    token = authorization.client.fetch_token(
        authorization_response=page.url, state=authorization.state, code_verifier=authorization.verifier
    )
    authorization.token = token
    return verified_id_token_claims(authorization.metadata, party.client_id, token, authorization.nonce)


def refresh(authorization):
    """The relying party's refresh grant with the refresh token it has (RFC 6749 §6); the answer."""
    party = authorization.party
    answer = checked().post(
        authorization.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": authorization.token["refresh_token"]},
        auth=(party.client_id, party.client_secret),
    )
    if answer.status_code == 200:
        authorization.token = answer.json()
    return answer


def invalid_grant(answer):
    return answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def confirm_second_factor(browser, page, code, name="mfa-reauthenticate"):
    """allauth's MFA reauthentication, where the server sends a session that lacks the factor."""
    send_code(browser, page, code, MFA_REAUTHENTICATE, "Confirm", name)


# --- Password reset by e-mail.

RESET_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+")


def test_password_reset_by_email_end_to_end(browser, people, mailbox, relying_parties):
    person = people["reset"]
    # An app the person allowed before: a reset revokes it (OWASP ASVS 4.0.3 V3.3.3).
    elsewhere = browser.new_page()
    app = start_authorization(browser, elsewhere, relying_parties["ordinary"])
    fill_login_form(browser, elsewhere, person, name="login-for-a-client")
    allow(browser, elsewhere, app)
    page = browser.new_page()
    page.goto(f"{browser.base_url}{LOGIN}")
    page.locator("main").get_by_role("link", name=re.compile("forgot", re.IGNORECASE)).click()
    page.wait_for_load_state()
    assert path_of(page) == PASSWORD_RESET, page.url
    page.locator("input[name=email]").fill(person.email)
    browser.shows(page, "password-reset")
    main_button(page, "Reset my password").click()
    page.wait_for_load_state()
    assert path_of(page) != PASSWORD_RESET, form_error(page)
    browser.shows(page, "password-reset-done")

    message = mailbox.wait_for(person.email)
    assert message["To"] == person.email
    body = message.get_body(preferencelist=("plain",)).get_content()
    links = RESET_LINK.findall(body)
    assert len(links) == 1, body
    link = links[0]
    # The link leads back to this server, the one the person asked.
    assert link.startswith(f"{browser.base_url}/"), link

    page.goto(link)
    new_password = secrets.token_urlsafe(16)
    page.locator("input[name=password1]").fill(new_password)
    page.locator("input[name=password2]").fill(new_password)
    browser.shows(page, "password-reset-from-key")
    main_button(page, "Change password").click()
    page.wait_for_load_state()
    browser.shows(page, "password-reset-from-key-done")
    assert "password" in page.locator("main").inner_text().lower()
    assert invalid_grant(refresh(app))

    # The link worked once: it is spent now.
    spent = browser.new_page()
    spent.goto(link)
    assert spent.locator("input[name=password1]").count() == 0
    browser.shows(spent, "password-reset-spent-link")

    with_old = browser.new_page()
    sign_in_with_password(browser, with_old, person, name="login-old-password")
    assert path_of(with_old) == LOGIN, with_old.url
    assert signed_in_user(browser, with_old) is None

    with_new = browser.new_page()
    sign_in_with_password(browser, with_new, person, password=new_password, name="login-new-password")
    assert signed_in_user(browser, with_new) == person.username


def test_the_reset_link_is_on_the_issuer_whatever_the_host_header(accounts_server, people, mailbox):
    # The Host header is the client's to write, and ALLOWED_HOSTS does not look at its port: a
    # reset asked with another port's Host still mails a link to the issuer (OAUTH_ISSUER).
    person = people["reset_host"]
    forged = {"Host": "localhost:1"}
    session = checked()
    assert session.get(f"{accounts_server}{PASSWORD_RESET}", headers=forged).status_code == 200
    form = {"email": person.email, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    asked = session.post(
        f"{accounts_server}{PASSWORD_RESET}", data=form, headers=forged, allow_redirects=False
    )
    assert asked.status_code == 302, asked.text

    body = mailbox.wait_for(person.email).get_body(preferencelist=("plain",)).get_content()
    links = RESET_LINK.findall(body)
    assert len(links) == 1 and links[0].startswith(f"{accounts_server}/"), body
    assert not re.search(r"localhost:1(?!\d)", body), body


# --- E-mail addresses: the `email` claim is the user's own (OIDC Core §5.7).


def test_another_accounts_address_never_reaches_the_email_claim(browser, people, relying_parties, env_values):
    # The review's steps: an invited person, whose address is not yet verified, adds the admin's
    # (verified) address on the e-mail page and makes it primary. It is refused, and the ID token
    # of a client that links accounts by e-mail names the person's own address, unverified.
    person = people["email_claim"]
    admin_email = env_values["DJANGO_SUPERUSER_EMAIL"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)
    page.goto(f"{browser.base_url}{EMAIL}")
    browser.shows(page, "email")
    csrf_token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    form = {"csrfmiddlewaretoken": csrf_token, "email": admin_email}
    added = page.request.post(f"{browser.base_url}{EMAIL}", form={**form, "action_add": ""}, max_redirects=0)
    assert added.status == 200 and "already registered" in added.text(), added.status
    page.request.post(f"{browser.base_url}{EMAIL}", form={**form, "action_primary": ""}, max_redirects=0)

    authorization = start_authorization(browser, page, relying_parties["email"], scope="openid email")
    claims = allow(browser, page, authorization, name="consent-email")
    assert (claims["email"], claims["email_verified"]) == (person.email, False)


# --- TOTP.


def test_totp_enrolment_then_sign_in_with_a_code_once(browser, people):
    person = people["totp"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)
    assert signed_in_user(browser, page) == person.username
    secret, enrolment_step = activate_totp(browser, page, person)
    totp = totp_of(secret)
    page.goto(f"{browser.base_url}{MFA_INDEX}")
    browser.shows(page, "mfa-index-totp-active")
    sign_out(browser, page)

    # The password alone no longer signs the person in: the second step asks for a code.
    later = browser.new_page()
    sign_in_with_password(browser, later, person)
    assert path_of(later) == MFA_AUTHENTICATE, later.url
    assert signed_in_user(browser, later) is None
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    enter_code(browser, later, wrong, name="mfa-authenticate-wrong-code")
    assert path_of(later) == MFA_AUTHENTICATE, later.url
    # A code the authenticator app shows after the enrolment's signs the person in...
    code, step = fresh_code(totp, after_step=enrolment_step)
    enter_code(browser, later, code)
    assert path_of(later) != MFA_AUTHENTICATE, form_error(later)
    assert signed_in_user(browser, later) == person.username
    sign_out(browser, later)

    # ...once: someone who saw it can't sign in with it, even within its 30 s (RFC 6238 §5.2).
    replay = browser.new_page()
    sign_in_with_password(browser, replay, person)
    enter_code(browser, replay, code, name="mfa-authenticate-spent-code")
    assert step_of(totp) == step, "the code's step ended before it was tried again"
    assert path_of(replay) == MFA_AUTHENTICATE, replay.url
    assert signed_in_user(browser, replay) is None


# --- Recovery codes.


def test_recovery_codes_are_shown_once_and_each_signs_in_once(browser, people):
    person = people["recovery"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)
    activate_totp(browser, page, person)
    # Activating the first factor makes the recovery codes and shows them, this once.
    assert path_of(page) == RECOVERY_CODES, page.url
    codes = recovery_codes_shown(page)
    browser.shows(page, "recovery-codes")
    assert len(codes) >= 8 and len(set(codes)) == len(codes), codes
    saved = page.get_by_label(re.compile("saved my recovery codes", re.IGNORECASE))
    if saved.count():
        saved.check()
    page.reload()
    assert recovery_codes_shown(page) == []
    assert not any(code in page.content() for code in codes)
    browser.shows(page, "recovery-codes-seen")
    sign_out(browser, page)

    lost_phone = browser.new_page()
    sign_in_with_password(browser, lost_phone, person)
    enter_code(browser, lost_phone, codes[0], name="mfa-authenticate-recovery-code")
    assert path_of(lost_phone) != MFA_AUTHENTICATE, form_error(lost_phone)
    assert signed_in_user(browser, lost_phone) == person.username
    open_sensitive_page(browser, lost_phone, person, RECOVERY_CODES)
    browser.shows(lost_phone, "recovery-codes-one-used")
    assert f"{len(codes) - 1} out of {len(codes)}" in lost_phone.locator("main").inner_text()

    again = browser.new_page()
    sign_in_with_password(browser, again, person)
    enter_code(browser, again, codes[0], name="mfa-authenticate-used-recovery-code")
    assert path_of(again) == MFA_AUTHENTICATE, again.url
    assert signed_in_user(browser, again) is None


# --- Passkeys.


def register_passkey(browser, page, person, name):
    """Add a passkey (a resident, user-verified WebAuthn credential) for the signed-in person;
    return the page's virtual authenticator."""
    authenticator = Authenticator(page)
    open_sensitive_page(browser, page, person, WEBAUTHN_ADD)
    page.locator("input[name=name]").fill(name)
    page.get_by_label(re.compile("passwordless", re.IGNORECASE)).check()
    browser.shows(page, "webauthn-add")
    main_button(page, "Add").click()
    page.wait_for_url(lambda url: urlsplit(url).path != WEBAUTHN_ADD, timeout=15_000)
    assert browser.console_errors == [], browser.console_errors
    return authenticator


def test_passkey_registration_then_sign_in_without_a_password(browser, people, relying_parties):
    person = people["passkey"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)
    authenticator = register_passkey(browser, page, person, "Test laptop")
    browser.shows(page, "webauthn-added")
    (credential,) = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == urlsplit(browser.base_url).hostname
    page.goto(f"{browser.base_url}{WEBAUTHN_LIST}")
    browser.shows(page, "webauthn-list")
    assert "Test laptop" in page.locator("main").inner_text()

    # Another browser holding the same passkey signs in to a relying party with it alone: no
    # user name, no password.
    elsewhere = browser.new_page()
    Authenticator(elsewhere).add(credential)
    authorization = start_authorization(browser, elsewhere, relying_parties["ordinary"])
    assert path_of(elsewhere) == LOGIN, elsewhere.url
    browser.shows(elsewhere, "login-passkey")
    before = int(time.time())
    main_button(elsewhere, "Sign in with a passkey").click()
    elsewhere.wait_for_url(lambda url: urlsplit(url).path != LOGIN, timeout=15_000)
    assert browser.console_errors == [], browser.console_errors
    claims = allow(browser, elsewhere, authorization)
    # RFC 8176: a key the authenticator holds (hwk), the user present and verified (user): two
    # kinds of factor, so multi-factor (mfa).
    assert claims["amr"] == ["hwk", "mfa", "user"]
    assert claims["acr"] == MULTI_FACTOR
    assert before <= claims["auth_time"] <= time.time()
    assert signed_in_user(browser, elsewhere) == person.username


# --- The sessions page.


def test_the_sessions_page_signs_out_another_browser(browser, people, relying_parties):
    person = people["sessions"]
    laptop, phone = browser.new_page(), browser.new_page()
    sign_in_with_password(browser, laptop, person)
    laptop_app = start_authorization(browser, laptop, relying_parties["ordinary"])
    allow(browser, laptop, laptop_app)
    # An app the phone's sign-in allowed: its refresh token outlives the phone's session.
    phone_app = start_authorization(browser, phone, relying_parties["ordinary"])
    fill_login_form(browser, phone, person, name="login-for-a-client")
    allow(browser, phone, phone_app)
    assert signed_in_user(browser, phone) == person.username
    assert refresh(phone_app).status_code == 200

    laptop.goto(f"{browser.base_url}{SESSIONS}")
    browser.shows(laptop, "sessions")
    assert laptop.locator("main tbody tr").count() == 2
    main_button(laptop, "Sign out other sessions").click()
    laptop.wait_for_load_state()
    browser.shows(laptop, "sessions-others-signed-out")
    assert laptop.locator("main tbody tr").count() == 1

    # The phone's next request finds its session gone; the laptop's is still there.
    phone.goto(f"{browser.base_url}{SESSIONS}")
    assert path_of(phone) == LOGIN, phone.url
    assert signed_in_user(browser, phone) is None
    assert signed_in_user(browser, laptop) == person.username
    # What the phone's sign-in granted is revoked; what the laptop's did is not.
    assert invalid_grant(refresh(phone_app))
    assert refresh(laptop_app).status_code == 200


def test_a_password_change_revokes_what_the_other_sign_ins_granted(browser, people, relying_parties):
    """OWASP ASVS 4.0.3 V3.3.3: a changed password ends the other sign-ins at the relying parties too."""
    person = people["password_change"]
    laptop, phone = browser.new_page(), browser.new_page()
    apps = {}
    for name, page in (("laptop", laptop), ("phone", phone)):
        apps[name] = start_authorization(browser, page, relying_parties["ordinary"])
        fill_login_form(browser, page, person, name="login-for-a-client")
        allow(browser, page, apps[name])
        assert refresh(apps[name]).status_code == 200

    laptop.goto(f"{browser.base_url}{PASSWORD_CHANGE}")
    new_password = secrets.token_urlsafe(16)
    laptop.locator("input[name=oldpassword]").fill(person.password)
    laptop.locator("input[name=password1]").fill(new_password)
    laptop.locator("input[name=password2]").fill(new_password)
    browser.shows(laptop, "password-change")
    main_button(laptop, "Change password").click()
    laptop.wait_for_load_state()
    assert "Password successfully changed" in form_error(laptop), form_error(laptop)
    person.password = new_password

    assert invalid_grant(refresh(apps["phone"]))
    # The session that made the change keeps its apps (docs/security.md).
    assert refresh(apps["laptop"]).status_code == 200


# --- What the ID token says of the sign-in: amr (RFC 8176), acr and auth_time (OIDC Core §2).


def test_the_id_token_of_a_password_sign_in(browser, people, relying_parties):
    person = people["oidc_password"]
    page = browser.new_page()
    authorization = start_authorization(browser, page, relying_parties["ordinary"])
    before = int(time.time())
    fill_login_form(browser, page, person, name="login-for-a-client")
    claims = allow(browser, page, authorization)
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == SINGLE_FACTOR
    assert before <= claims["auth_time"] <= time.time()


def test_the_id_token_of_a_password_and_totp_sign_in(browser, people, relying_parties):
    person = people["oidc_totp"]
    page = browser.new_page()
    authorization = start_authorization(browser, page, relying_parties["ordinary"])
    before = int(time.time())
    fill_login_form(browser, page, person, name="login-for-a-client")
    code, _ = fresh_code(totp_of(person.totp_secret), seconds_to_spare=2)
    enter_code(browser, page, code, name="mfa-authenticate-for-a-client")
    claims = allow(browser, page, authorization)
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR
    assert before <= claims["auth_time"] <= time.time()


def test_acr_values_asking_for_multi_factor_brings_the_second_factor(browser, people, relying_parties):
    # Signed in with a password, the person then sets up an authenticator app: the session is
    # still a password-only one.
    person = people["step_up"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)
    secret, enrolment_step = activate_totp(browser, page, person)
    party = relying_parties["ordinary"]

    # A client asking for no level gets the session as it is, without a second factor...
    plain = start_authorization(browser, page, party)
    claims = allow(browser, page, plain)
    assert (claims["amr"], claims["acr"]) == (["pwd"], SINGLE_FACTOR)

    # ...one asking for multi-factor (OIDC Core §3.1.2.1) has the person give the second factor.
    stronger = start_authorization(browser, page, party, acr_values=MULTI_FACTOR)
    assert path_of(page) == MFA_REAUTHENTICATE, page.url
    code, _ = fresh_code(totp_of(secret), after_step=enrolment_step)
    second_factor_at = int(time.time())
    confirm_second_factor(browser, page, code)
    claims = allow(browser, page, stronger, name="consent-after-step-up")
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR
    # The latest authentication, the second factor's (OIDC Core §2).
    assert second_factor_at <= claims["auth_time"] <= time.time()


def test_a_client_requiring_multi_factor_refuses_a_password_only_session(browser, people, relying_parties):
    person = people["strict_client"]
    party = relying_parties["strict"]
    page = browser.new_page()
    sign_in_with_password(browser, page, person)

    # No second factor yet: the person is asked to set one up, and the client gets no code.
    authorization = start_authorization(browser, page, party)
    page.get_by_role("heading", name="Set up a second factor first").wait_for()
    assert party.name in page.locator("main").inner_text()
    browser.shows(page, "second-factor-required")
    continue_url = page.locator("#continue").get_attribute("href")
    page.locator("#enrol").click()
    page.wait_for_load_state()
    assert path_of(page) == MFA_INDEX, page.url
    activate_totp(browser, page, person)
    recovery_codes = recovery_codes_shown(page)
    assert recovery_codes

    # Set up, but not used in this session: back to the client, the request stops at the second
    # factor.
    page.goto(f"{browser.base_url}{continue_url}")
    assert path_of(page) == MFA_REAUTHENTICATE, page.url
    # Away from the phone, the person gives a recovery code, which is a second factor too (otp).
    confirm_second_factor(browser, page, recovery_codes[0], name="mfa-reauthenticate-recovery-code")
    claims = allow(browser, page, authorization, name="consent-strict-client")
    assert claims["amr"] == ["mfa", "otp", "pwd"]
    assert claims["acr"] == MULTI_FACTOR


# --- Every account page, at a desktop's width and a phone's.

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The words the pages no longer use, one name for each thing on allauth's pages and ours:
# "Passkeys", "Email addresses", "Sign out".
RETIRED_WORDS = re.compile(r"(?i:security keys?|e-mail)|Email Addresses|Sign Out")


def check_page(browser, page, name):
    """The page as it is now, at a desktop's width then a phone's (the same page, resized: some
    are shown once): the accessibility basics, no horizontal scroll, none of the retired words, a
    screenshot of each (test-artifacts/accounts-<name>-desktop.png, -phone.png)."""
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        check_accessibility(page, f"{name} at {width} width")
        retired = RETIRED_WORDS.findall(page.locator("body").inner_text())
        assert retired == [], f"{name} says {retired}"
        browser.shows(page, f"{name}-{width}")
    page.set_viewport_size(DESKTOP)


def visit(browser, page, path, name):
    page.goto(f"{browser.base_url}{path}")
    assert path_of(page) == path, page.url
    check_page(browser, page, name)


def primary_buttons(page):
    """The labels of the main content's buttons that stand out (the site's `primary` class)."""
    return [text.strip() for text in page.locator("main .primary").all_inner_texts()]


def above(page, upper, lower):
    """Whether `upper` ends before `lower` starts, down the page."""
    return upper.bounding_box()["y"] + upper.bounding_box()["height"] <= lower.bounding_box()["y"]


def test_every_account_page_at_desktop_and_phone_width(browser, people, mailbox, relying_parties):
    person = people["pages"]
    page = browser.new_page()

    # Signed out: sign-in, sign-up (closed unless ACCOUNT_ALLOW_SIGNUPS), the password reset.
    visit(browser, page, LOGIN, "page-login")
    assert primary_buttons(page) == ["Sign in"]
    page.goto(f"{browser.base_url}{SIGNUP}")
    check_page(browser, page, "page-signup")
    visit(browser, page, PASSWORD_RESET, "page-password-reset")
    assert primary_buttons(page) == ["Reset My Password"]
    page.locator("input[name=email]").fill(person.email)
    main_button(page, "Reset my password").click()
    page.wait_for_load_state()
    check_page(browser, page, "page-password-reset-done")
    body = mailbox.wait_for(person.email).get_body(preferencelist=("plain",)).get_content()
    (link,) = RESET_LINK.findall(body)
    page.goto(link)
    assert page.locator("input[name=password1]").count() == 1
    check_page(browser, page, "page-password-reset-from-key")
    assert primary_buttons(page) == ["Change Password"]

    sign_in_with_password(browser, page, person, name="page-login-filled")
    for path, name in ((MFA_INDEX, "mfa-index"), (PASSWORD_CHANGE, "password-change"), (EMAIL, "email")):
        visit(browser, page, path, f"page-{name}")
    assert primary_buttons(page) == ["Add Email"]
    assert page.locator("main h1").inner_text() == "Email addresses"
    visit(browser, page, SESSIONS, "page-sessions")
    browser_cell = page.locator("main tbody td.user-agent").first
    assert browser_cell.inner_text().startswith("Mozilla/")

    # The authenticator app, then the recovery codes it brings, shown this once.
    open_sensitive_page(browser, page, person, TOTP_ACTIVATE)
    check_page(browser, page, "page-totp-activate")
    code, _ = fresh_code(totp_of(page.locator("#authenticator_secret").input_value()), seconds_to_spare=2)
    page.locator("input[name=code]").fill(code)
    main_button(page, "Activate").click()
    page.wait_for_load_state()
    assert path_of(page) == RECOVERY_CODES, form_error(page)
    codes = recovery_codes_shown(page)
    check_page(browser, page, "page-recovery-codes")
    # Top to bottom: the label, the codes, the ways to keep them, the next step.
    textarea, saved = page.locator("#recovery_codes"), page.locator("#codes_saved")
    download, next_step = page.locator("#download_codes"), page.locator("#continue")
    assert above(page, page.locator("label[for=recovery_codes]"), textarea)
    assert above(page, textarea, download) and above(page, download, saved) and above(page, saved, next_step)
    assert next_step.is_visible() and next_step.inner_text() == "Continue to two-factor authentication"
    assert primary_buttons(page) == ["Continue to two-factor authentication"]
    with page.expect_download() as downloading:
        download.click()
    assert downloading.value.suggested_filename == "recovery-codes.txt"
    assert Path(downloading.value.path()).read_text().split() == codes
    saved.check()
    next_step.click()
    page.wait_for_load_state()
    assert path_of(page) == MFA_INDEX, page.url
    check_page(browser, page, "page-mfa-index-totp-active")
    visit(browser, page, RECOVERY_CODES, "page-recovery-codes-seen")
    assert recovery_codes_shown(page) == []
    assert page.locator("#continue").is_visible()
    visit(browser, page, RECOVERY_CODES_GENERATE, "page-recovery-codes-generate")
    visit(browser, page, TOTP_DEACTIVATE, "page-totp-deactivate")

    # A passkey: added, listed, renamed, removed (the last two pages shown, not sent).
    Authenticator(page)
    visit(browser, page, WEBAUTHN_ADD, "page-webauthn-add")
    assert page.locator("main h1").inner_text() == "Add a passkey"
    page.locator("input[name=name]").fill("Test laptop")
    page.get_by_label(re.compile("passwordless", re.IGNORECASE)).check()
    main_button(page, "Add").click()
    page.wait_for_url(lambda url: urlsplit(url).path != WEBAUTHN_ADD, timeout=15_000)
    visit(browser, page, WEBAUTHN_LIST, "page-webauthn-list")
    assert page.locator("main h1").inner_text() == "Passkeys"
    edit_url = page.locator("main").get_by_role("link", name="Rename").get_attribute("href")
    remove_url = page.locator("main").get_by_role("link", name="Remove").get_attribute("href")
    visit(browser, page, edit_url, "page-webauthn-rename")
    visit(browser, page, remove_url, "page-webauthn-remove")
    visit(browser, page, MFA_INDEX, "page-mfa-index-all-factors")

    # "Confirm Access": the password is what the person came to give; the other ways are outlined.
    visit(browser, page, REAUTHENTICATE, "page-reauthenticate")
    assert primary_buttons(page) == ["Confirm"]
    assert "Use a passkey" in page.locator("main").inner_text()
    visit(browser, page, MFA_REAUTHENTICATE, "page-mfa-reauthenticate")
    assert primary_buttons(page) == ["Confirm"]
    visit(browser, page, WEBAUTHN_REAUTHENTICATE, "page-webauthn-reauthenticate")
    assert primary_buttons(page) == ["Use a passkey"]

    # "Apps you allowed": the account's menu, and each app's scopes as the consent page lists them
    # (the server's order, whatever order the app asked in).
    authorization = start_authorization(browser, page, relying_parties["pages"], scope="email profile openid")
    page.get_by_role("heading", name="Allow Pages test app to access your account?").wait_for()
    asked = page.locator("main ul.scopes li").all_inner_texts()
    assert asked == ["Sign you in with your account", "See your name and username", "See your email address"]
    check_page(browser, page, "page-consent")
    allow(browser, page, authorization, name="page-consent-allowed")
    visit(browser, page, CONSENTS, "page-consents")
    menu = page.locator("main nav.account-nav")
    assert menu.get_by_role("link").all_inner_texts() == [
        "Email addresses",
        "Password",
        "Two-factor authentication",
        "Sessions",
        "Apps you allowed",
    ]
    assert menu.locator("[aria-current=page]").inner_text() == "Apps you allowed"
    assert page.locator("main form.consent ul.scopes li").all_inner_texts() == asked

    # Sign out, and back in: the second factor's page.
    visit(browser, page, LOGOUT, "page-logout")
    assert primary_buttons(page) == ["Sign out"]
    main_button(page, "Sign out").click()
    page.wait_for_load_state()
    sign_in_with_password(browser, page, person, name="page-login-again")
    assert path_of(page) == MFA_AUTHENTICATE, page.url
    check_page(browser, page, "page-mfa-authenticate")
    assert primary_buttons(page) == ["Sign in"]
