"""
A real browser (Debian's Chromium, headless, driven by Playwright) signs in and answers the
consent page of a live baked server, as a person would.

Screenshots of the login and consent pages land in test-artifacts/ at the repository root.
"""

import secrets
from pathlib import Path

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from .conftest import TEMPLATE_DIR
from .live import discover, query_of, register_client

pytestmark = pytest.mark.xdist_group("full_setup")

CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download a browser of its own here: it drives the system's Chromium.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = TEMPLATE_DIR / "test-artifacts"


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.is_file():
        pytest.skip(
            f"SKIPPED LOUDLY: no browser at {CHROMIUM}; install it with "
            "`apt-get update && apt-get install -y chromium` (.ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


@pytest.fixture(scope="session")
def web_client(project, live_server):
    """A web client whose redirect URI is the live server's own demo callback (matched exactly)."""
    return register_web_client(project, "live-test-browser", f"{live_server}/demo/callback/")


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def sign_in_to_consent(page, live_server, web_client, env_values, screenshots=False):
    """Open an authorization URL, sign in with the login form, arrive at the consent page."""
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


def test_browser_signs_in_allows_and_lands_on_the_callback(page, live_server, web_client, env_values):
    redirect_uri, state = sign_in_to_consent(page, live_server, web_client, env_values, screenshots=True)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}?*")
    answer = query_of(page.url)
    assert answer["state"] == state and answer["iss"] == live_server
    assert answer["code"]
    # The demo relying party refuses a code it did not ask for (its state is not in this session).
    assert "not asked for here" in page.get_by_role("alert").inner_text()


def test_browser_denies_and_the_client_gets_access_denied(page, live_server, web_client, env_values):
    redirect_uri, state = sign_in_to_consent(page, live_server, web_client, env_values)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"{redirect_uri}?*")
    answer = query_of(page.url)
    assert answer["error"] == "access_denied" and answer["state"] == state
    assert "code" not in answer
    assert "not asked for here" in page.get_by_role("alert").inner_text()
