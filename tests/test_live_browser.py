"""
A real browser (Debian's Chromium, headless, driven by Playwright) signs in and answers the
consent page of a live baked server, as a person would.

Screenshots of the login and consent pages land in test-artifacts/ at the repository root.
"""

import pytest

from .live import query_of, register_web_client, sign_in_to_consent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def web_client(project, live_server):
    """A web client whose redirect URI is the live server's own demo callback (matched exactly)."""
    return register_web_client(project, "live-test-browser", f"{live_server}/demo/callback/")


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
