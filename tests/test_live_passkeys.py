"""
Passkeys on a fresh bake, at the address its setup prints, in Debian's Chromium with a virtual
authenticator: the setup prints http://localhost:<port>/accounts/2fa/ (browsers refuse WebAuthn on
an IP address), a passkey is added there, a page opened on 127.0.0.1 at the issuer's port goes to
the same page on localhost, and on a server whose issuer is 127.0.0.1 the passkey pages say why
passkeys cannot work there and link the same page on localhost.

The server runs on a free port rather than 8000 (another may be in use on a shared machine),
with the issuer the bake's .env pins, http://localhost:8000, moved to that port.
"""

import re
import sqlite3
from urllib.parse import urlsplit

import pytest

from .support import free_port, running_server, runserver_command
from .test_live_accounts import Authenticator, Browser, main_button

pytestmark = pytest.mark.slow

LOGIN = "/accounts/login/"
WEBAUTHN_ADD = "/accounts/2fa/webauthn/add/"
REAUTHENTICATE = "/accounts/reauthenticate/"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 720}
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def printed_url(setup_output, label):
    """The URL the setup's summary prints after `label`."""
    return re.search(rf"^{re.escape(label)}\s+(\S+)", setup_output, re.M).group(1)


@pytest.fixture(scope="module")
def printed_second_factor_url(full_bake, env_values):
    _, setup_output = full_bake
    url = urlsplit(printed_url(setup_output, "Second factor:"))
    assert url.hostname == "localhost", url
    assert env_values["OAUTH_ISSUER"] == f"{url.scheme}://{url.netloc}"
    return url


@pytest.fixture(scope="module")
def fresh_server(project, printed_second_factor_url, tmp_path_factory):
    """The fresh bake's server on localhost, on a copy of its database: (port, base URL)."""
    database = tmp_path_factory.mktemp("passkeys") / "db.sqlite3"
    with sqlite3.connect(project / "db.sqlite3") as source, sqlite3.connect(database) as copy:
        source.backup(copy)
    port = free_port()
    base_url = f"{printed_second_factor_url.scheme}://localhost:{port}"
    with running_server(
        project, runserver_command(project, port), base_url, DATABASE_URL=f"sqlite:///{database}"
    ) as url:
        yield port, url


@pytest.fixture
def browser(chromium, fresh_server):
    opened = Browser(chromium, fresh_server[1])
    yield opened
    opened.close()
    assert opened.server_errors == [], opened.server_errors
    assert opened.csp_violations == [], opened.csp_violations


def shows(browser, page, name):
    browser.shows(page, f"fresh-bake-{name}")


def sign_in(browser, page, env_values, base_url):
    page.goto(f"{base_url}{LOGIN}")
    page.locator("input[name=login]").fill(env_values["DJANGO_SUPERUSER_USERNAME"])
    page.locator("input[name=password]").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
    main_button(page, "Sign in").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path != LOGIN, page.url


def test_a_passkey_is_added_at_the_address_the_setup_prints(
    browser, fresh_server, printed_second_factor_url, env_values
):
    _, base_url = fresh_server
    page = browser.new_page()
    authenticator = Authenticator(page)
    sign_in(browser, page, env_values, base_url)
    page.goto(f"{base_url}{printed_second_factor_url.path}")
    assert page.locator("#passkey-notice").count() == 0
    shows(browser, page, "2fa-index")
    page.goto(f"{base_url}{WEBAUTHN_ADD}")
    if urlsplit(page.url).path == REAUTHENTICATE:
        page.locator("input[name=password]").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
        main_button(page, "Confirm").click()
        page.wait_for_load_state()
    assert urlsplit(page.url).path == WEBAUTHN_ADD, page.url
    assert page.locator("#passkey-notice").count() == 0
    page.locator("input[name=name]").fill("Fresh bake laptop")
    page.get_by_label(re.compile("passwordless", re.IGNORECASE)).check()
    shows(browser, page, "webauthn-add")
    main_button(page, "Add").click()
    page.wait_for_url(lambda url: urlsplit(url).path != WEBAUTHN_ADD, timeout=15_000)
    shows(browser, page, "webauthn-added")
    assert browser.console_errors == [], browser.console_errors
    (credential,) = authenticator.credentials()
    assert credential["rpId"] == "localhost" and credential["isResidentCredential"] is True


def test_a_page_opened_on_127_0_0_1_goes_to_the_same_page_on_localhost(browser, fresh_server):
    port, base_url = fresh_server
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{port}{LOGIN}?next=/accounts/2fa/")
    assert page.url == f"{base_url}{LOGIN}?next=/accounts/2fa/"
    assert page.locator("#passkey-notice").count() == 0
    shows(browser, page, "loopback-address-redirected")


def test_where_passkeys_cannot_work_the_pages_say_why(chromium, live_server, env_values):
    """The shared live server's issuer is http://127.0.0.1:<port>: nothing redirects, so the
    pages themselves say why, and link the same page on localhost."""
    port = urlsplit(live_server).port
    browser = Browser(chromium, live_server)
    try:
        page = browser.new_page()
        page.goto(f"{live_server}{LOGIN}")
        notice = page.locator("#passkey-notice")
        assert "do not work on this address" in notice.inner_text()
        assert notice.get_by_role("link").get_attribute("href") == f"http://localhost:{port}{LOGIN}"
        browser.shows(page, "passkey-notice-login")
        # At phone width too, without scrolling sideways.
        page.set_viewport_size(PHONE)
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        browser.shows(page, "passkey-notice-login-phone")
        page.set_viewport_size(DESKTOP)
        sign_in(browser, page, env_values, live_server)
        page.goto(f"{live_server}/accounts/2fa/")
        assert "do not work on this address" in page.locator("#passkey-notice").inner_text()
        browser.shows(page, "passkey-notice-2fa")
    finally:
        browser.close()
    assert browser.server_errors == [] and browser.csp_violations == []
