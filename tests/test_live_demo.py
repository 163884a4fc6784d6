"""
The built-in demo relying party (/demo/) in Debian's Chromium against a live baked server on a
port other than 8000: home, demo, sign in, consent, the verified ID token, refresh, revoke, sign
out. Accessibility basics are checked on each page. Screenshots land in test-artifacts/.
"""

import re

import pytest

from .live import check_accessibility, check_visible_focus, shot
from .support import free_port, running_server, runserver_command

pytestmark = pytest.mark.slow


@pytest.fixture
def phone(chromium):
    """A browser the width of a phone (390 px), so every page is checked at that width."""
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def test_the_live_server_is_not_on_port_8000(live_server):
    """The demo client's loopback redirect URI has no port: it must work wherever the server runs."""
    assert not live_server.endswith(":8000")


def test_home_demo_sign_in_consent_claims_refresh_revoke_sign_out(phone, live_server, env_values):
    page = phone
    page.goto(f"{live_server}/")
    assert page.locator("#issuer").inner_text() == live_server
    assert page.locator('tr[data-key="token_endpoint"] code').inner_text() == f"{live_server}/o/token/"
    check_accessibility(page, "home")
    check_visible_focus(page)
    shot(page, "home")

    page.get_by_role("link", name="Try it").click()
    page.get_by_role("heading", name="Demo client").wait_for()
    check_accessibility(page, "demo")
    page.get_by_role("button", name="Sign in with the demo client").click()

    page.get_by_label("Username").fill(env_values["DJANGO_SUPERUSER_USERNAME"])
    page.get_by_label("Password").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
    check_accessibility(page, "login")
    page.locator("main").get_by_role("button", name="Sign in", exact=True).click()

    page.get_by_role("button", name="Allow").wait_for()
    assert "demo web app" in page.locator("h1").inner_text()
    check_accessibility(page, "consent")
    shot(page, "demo-consent")
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(f"{live_server}/demo/")
    assert page.locator('[data-claim="iss"]').inner_text() == live_server
    assert page.locator('[data-claim="aud"]').inner_text() == env_values["OAUTH_DEMO_CLIENT_ID"]
    assert page.locator('[data-claim="sub"]').inner_text()
    assert "nonce matches the one this demo sent" in page.locator("#checks").inner_text()
    assert page.locator("#userinfo-status").inner_text() == "200"
    assert page.locator("#resource-status").inner_text() == "200"
    assert '"username": "' + env_values["DJANGO_SUPERUSER_USERNAME"] in page.locator("#resource").inner_text()
    assert "••• (sha256:" in page.locator("#token-response-body").inner_text()
    check_accessibility(page, "demo result")
    shot(page, "demo-result")

    page.get_by_role("button", name="Refresh the tokens").click()
    refreshed = page.locator(".event-refreshed code").all_inner_texts()
    old_access, new_access, old_refresh, new_refresh = refreshed
    assert old_access != new_access and old_refresh != new_refresh

    page.get_by_role("button", name="Revoke the access token").click()
    assert "now answers 401" in page.locator(".event-revoked").inner_text()
    assert page.locator("#resource-status").inner_text() == "401"

    page.get_by_role("button", name="Sign out (RP-initiated logout)").click()
    if page.get_by_role("button", name="Stay signed in").count():
        check_accessibility(page, "logout")
        page.get_by_role("button", name="Sign out").last.click()
    page.wait_for_url(f"{live_server}/demo/")
    assert "Signed out" in page.get_by_role("status").inner_text()
    assert page.get_by_role("link", name="Sign in").count() == 1


def test_an_answer_the_demo_did_not_ask_for_is_refused(phone, live_server):
    phone.goto(f"{live_server}/demo/callback/?code=forged&state=forged")
    assert "not asked for here" in phone.get_by_role("alert").inner_text()
    check_accessibility(phone, "error")
    shot(phone, "demo-error")


def test_a_demo_run_is_in_the_audit_trail_and_the_logs(phone, project, env_values, tmp_path):
    """A demo run's security events (authserver/audit.py) are listed in the admin's audit trail
    and written as log lines with their request ids, and no secret of the run is in either."""
    port, log = free_port(), tmp_path / "server.log"
    with running_server(
        project, runserver_command(project, port), f"http://127.0.0.1:{port}", output=log
    ) as url:
        page = phone
        page.goto(f"{url}/demo/")
        page.get_by_role("button", name="Sign in with the demo client").click()
        page.get_by_label("Username").fill(env_values["DJANGO_SUPERUSER_USERNAME"])
        page.get_by_label("Password").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
        page.locator("main").get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{url}/demo/")
        page.get_by_role("button", name="Refresh the tokens").click()
        page.locator(".event-refreshed").wait_for()
        page.get_by_role("button", name="Revoke the access token").click()
        page.locator(".event-revoked").wait_for()

        page.goto(f"{url}/admin/oauth/auditevent/")
        shot(page, "audit-trail")
        listed = page.locator("#result_list").inner_text()
        for kind in ("sign_in", "consent_given", "token_issued", "token_refreshed", "token_revoked"):
            page.goto(f"{url}/admin/oauth/auditevent/?kind__exact={kind}")
            rows = page.locator("#result_list tbody tr")
            assert rows.count() >= 1, kind
            if kind != "token_revoked":
                assert env_values["DJANGO_SUPERUSER_USERNAME"] in rows.first.inner_text(), kind
        assert env_values["OAUTH_DEMO_CLIENT_ID"] in listed

    lines = [line for line in log.read_text().splitlines() if " authserver.audit " in line]
    kinds = {re.search(r"\] (\w+) ", line).group(1) for line in lines}
    assert {"sign_in", "consent_given", "token_issued", "token_refreshed", "token_revoked"} <= kinds
    # Each line carries its request's id, as the request's own line does.
    assert all(re.search(r"\[[0-9a-f]{32}\]", line) for line in lines)
    for secret in (env_values["DJANGO_SUPERUSER_PASSWORD"], env_values["OAUTH_DEMO_CLIENT_SECRET"]):
        assert secret not in log.read_text() and secret not in listed
