"""Helpers for the tests that drive a live baked server from outside, as its users and clients would."""

import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .support import TEMPLATE_DIR, venv_manage

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def refuse_server_errors(response, *args, **kwargs):
    """Bad input gets the RFC's error, never a 5xx: checked on every response of a live test."""
    assert response.status_code < 500, (
        f"{response.request.method} {response.url} answered {response.status_code}:\n{response.text[:3000]}"
    )


def checked(session=None):
    """A requests session (a plain one: a browser's cookie jar) that fails the test on any 5xx."""
    session = session if session is not None else requests.Session()
    session.hooks["response"].append(refuse_server_errors)
    return session


def discover(issuer):
    """The OpenID Provider metadata: the only URL the clients are given is the issuer."""
    document = checked().get(f"{issuer}/.well-known/openid-configuration").json()
    assert document["issuer"] == issuer
    return document


def query_of(url):
    return dict(parse_qsl(urlsplit(url).query))


@dataclass
class Form:
    action: str
    fields: dict = field(default_factory=dict)
    buttons: set = field(default_factory=set)


class FormParser(HTMLParser):
    """The forms of a page: where each posts, its fields' values and its named buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(Form(action=attrs.get("action") or ""))
        elif self.forms and attrs.get("name"):
            if tag == "input":
                self.forms[-1].fields[attrs["name"]] = attrs.get("value") or ""
            elif tag == "button":
                self.forms[-1].buttons.add((attrs["name"], attrs.get("value") or ""))


def form_of(page, button=None, fields=()):
    """The form of `page` with that button, or with all those fields."""
    parser = FormParser()
    parser.feed(page.text)
    for form in parser.forms:
        if button in form.buttons if button else set(fields) <= set(form.fields):
            return form
    raise AssertionError(f"No form with {button or sorted(fields)} on {page.url}:\n{page.text[:3000]}")


def submit(session, page, button=None, allow_redirects=True, **values):
    """Fill in a form of `page` like a browser: its own fields (CSRF token included), the values, the button."""
    form = form_of(page, button, values)
    data = {**form.fields, **values}
    if button:
        name, value = button
        data[name] = value
    return session.post(
        urljoin(page.url, form.action),
        data=data,
        headers={"Referer": page.url},
        allow_redirects=allow_redirects,
    )


def sign_in(browser, page, env_values):
    """Fill in the sign-in form (allauth's: its `login` field takes a username or an e-mail
    address) that `page` shows; return the page the sign-in leads back to."""
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    return submit(
        browser,
        page,
        login=env_values["DJANGO_SUPERUSER_USERNAME"],
        password=env_values["DJANGO_SUPERUSER_PASSWORD"],
    )


REGISTER_CLIENT = """
import json, os
from oauth2_provider.models import get_application_model
fields = json.loads(os.environ["LIVE_TEST_CLIENT"])
get_application_model().objects.update_or_create(client_id=fields.pop("client_id"), defaults=fields)
"""


# What an admin sets for a test's client unless the test says otherwise: the sample scopes (an
# empty list means only the default scopes), and the consent page every time, so that a
# consent remembered by an earlier test on the same live server changes no later one.
CLIENT_DEFAULTS = {"allowed_scopes": "openid profile email read", "always_ask_consent": True}


def register_client(project, database_env, **fields):
    """Create (or update) an OAuth client in the database of a live server, as an admin would."""
    fields = {**CLIENT_DEFAULTS, **fields}
    venv_manage(project, "shell", "-c", REGISTER_CLIENT, LIVE_TEST_CLIENT=json.dumps(fields), **database_env)
    return fields["client_id"]


def loopback_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and its key, written to directory: (cert, key) paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "cert.pem", directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certificate_file, key_file


# The browser tests: Debian's Chromium, headless, driven by Playwright (the `chromium` and `page`
# fixtures in conftest.py). Playwright cannot download a browser of its own here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Where the browser tests' screenshots land.
ARTIFACTS = TEMPLATE_DIR / "test-artifacts"


# The browser tests' accessibility basics, checked on every page they visit.
# WCAG 2.2 §1.4.3: the contrast ratio of text (and of a button's label) to its background.
MINIMUM_CONTRAST = 4.5
ACCESSIBILITY_PROBE = """(minimumContrast) => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const contrast = (element) => {
    const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const texts = [...document.querySelectorAll("h1, h2, h3, p, li, a, button, label, th, td, dt, dd, code, pre")]
    .filter((element) => element.offsetParent !== null && element.textContent.trim());
  const controls = [...document.querySelectorAll("input:not([type=hidden]), select, textarea")];
  return {
    h1: document.querySelectorAll("h1").length,
    title: document.title,
    unlabelled: controls.filter((control) => !control.labels?.length && !control.getAttribute("aria-label")).map((control) => control.name),
    lowContrast: texts.filter((element) => contrast(element) < minimumContrast).map((element) => `${element.tagName}: ${element.textContent.trim().slice(0, 40)} (${contrast(element).toFixed(2)})`),
    horizontalScroll: document.documentElement.scrollWidth > document.documentElement.clientWidth
      ? [...document.querySelectorAll("body *")].filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth)
          .map((element) => `${element.tagName}#${element.id}.${element.className}`)
      : [],
  };
}"""


def check_accessibility(page, name):
    """One h1, a title, every control labelled, readable contrast, no horizontal scroll (at the
    width the page is shown at: a phone's, 390 px, is the narrowest the browser tests use)."""
    found = page.evaluate(ACCESSIBILITY_PROBE, MINIMUM_CONTRAST)
    assert found["h1"] == 1, name
    assert found["title"], name
    assert found["unlabelled"] == [], name
    assert found["lowContrast"] == [], name
    assert found["horizontalScroll"] == [], name


def register_web_client(project, client_id, redirect_uri):
    """A confidential web client named "Browser test app"; return (client_id, redirect_uri)."""
    register_client(
        project,
        {},
        client_id=client_id,
        client_secret=secrets.token_urlsafe(48),
        name="Browser test app",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=redirect_uri,
        algorithm="RS256",
        allowed_scopes="openid read",
        # Every test signs in and meets the consent page, whatever an earlier one allowed.
        always_ask_consent=True,
    )
    return client_id, redirect_uri


def sign_in_to_consent(page, live_server, web_client, env_values, screenshots=False):
    """In the browser `page`, open an authorization URL, sign in with the login form, arrive at
    the consent page; return (the redirect URI, the state)."""
    client_id, redirect_uri = web_client
    client = OAuth2Session(
        client_id, scope="openid read", redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    url, state = client.create_authorization_url(
        discover(live_server)["authorization_endpoint"], code_verifier=generate_token(48)
    )
    page.goto(url)
    page.get_by_label("Username").fill(env_values["DJANGO_SUPERUSER_USERNAME"])
    page.get_by_label("Password").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
    if screenshots:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "login.png", full_page=True)
    page.locator("main").get_by_role("button", name="Sign in", exact=True).click()

    page.get_by_role("heading", name="Allow Browser test app to access your account?").wait_for()
    scopes = page.locator("ul.scopes li").all_inner_texts()
    assert scopes == ["Sign you in with your account", "Read your data"]
    if screenshots:
        page.screenshot(path=ARTIFACTS / "consent.png", full_page=True)
    return redirect_uri, state


def check_visible_focus(page):
    """A keyboard user sees where the focus is: the focused control gets an outline."""
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and outline[1] != "0px"


def shot(page, name):
    """A full-page screenshot in test-artifacts/, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
