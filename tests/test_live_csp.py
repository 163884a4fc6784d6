"""
The Content-Security-Policy against a real browser: the consent form's answer redirects to a
client on another origin, which form-action must allow, since Chromium checks form-action on
the redirects after a form submission too.
"""

from urllib.parse import urlsplit

import pytest

from .live import query_of, register_web_client, sign_in_to_consent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def other_origin_client(project, live_server):
    """A client whose redirect URI is on localhost: another origin than the server's 127.0.0.1."""
    redirect_uri = f"http://localhost:{urlsplit(live_server).port}/demo/callback/"
    return register_web_client(project, "live-test-other-origin", redirect_uri)


def test_consent_redirects_to_a_client_on_another_origin(page, live_server, other_origin_client, env_values):
    blocked = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security" in message.text else None,
    )
    redirect_uri, state = sign_in_to_consent(page, live_server, other_origin_client, env_values)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}?*", timeout=10_000)
    assert query_of(page.url)["state"] == state
    assert query_of(page.url)["code"]
    # The page rendered (the demo refuses the code: it did not start this sign-in).
    assert "not asked for here" in page.get_by_role("alert").inner_text()
    assert blocked == []
