"""
The site's own pages in Debian's Chromium, at desktop width (1280 px) and at a phone's (390 px):
home, the demo and its results, consent, the device pages, sign-out, the second-factor page, the
OAuth request error page, and the error pages (400, CSRF 403, 404, 429, 503) as production
serves them (DEBUG off). Each page: accessibility basics and no horizontal scroll
(check_accessibility), a screenshot in test-artifacts/site-<page>-<width>.png; and what each page
is for: the demo's times readable with their raw values, its results above any "Sign in", a next
step on every error page, the primary button on the action the person came for, Django's DEBUG
pages readable under the CSP while production's policy stays as it is.
"""

import re
import shutil
from urllib.parse import urlencode

import pytest

from .live import check_accessibility, checked, register_client, shot
from .support import free_port, running_server, runserver_command

pytestmark = pytest.mark.slow

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# config/settings/base.py's CONTENT_SECURITY_POLICY as sent with every page in production.
PRODUCTION_POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"
)
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def production_like_server(project):
    """The live server's project and database with DEBUG off, as production answers errors
    (runserver --insecure serves the stylesheet, as whitenoise does in production); two
    sign-in forms a minute per address before the 429 page."""
    port = free_port()
    command = [*runserver_command(project, port), "--insecure"]
    with running_server(
        project,
        command,
        f"http://127.0.0.1:{port}",
        DJANGO_DEBUG="False",
        ACCOUNT_RATE_LIMIT_LOGIN="2/m/ip",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def outage_server(project, tmp_path_factory):
    """A server whose SQLite database is gone once it has started: every page answers 503."""
    database = tmp_path_factory.mktemp("outage") / "db.sqlite3"
    shutil.copy(project / "db.sqlite3", database)
    port = free_port()
    with running_server(
        project,
        [*runserver_command(project, port), "--insecure"],
        f"http://127.0.0.1:{port}",
        DJANGO_DEBUG="False",
        DATABASE_URL=f"sqlite:///{database}",
    ) as url:
        # A new connection opens an empty database in its place: no tables, OperationalError.
        database.unlink()
        yield url


@pytest.fixture(scope="module")
def site_clients(project, live_server):
    """A device client, and a web client that requires a second factor (the superuser has none)."""
    register_client(
        project,
        {},
        client_id="live-site-tv",
        name="Site test TV",
        client_type="public",
        authorization_grant_type=DEVICE_CODE_GRANT,
    )
    register_client(
        project,
        {},
        client_id="live-site-strict",
        client_secret="live-site-strict-secret-" + "x" * 24,
        name="Strict site app",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=f"{live_server}/demo/callback/",
        algorithm="RS256",
        allowed_scopes="openid",
        requires_multi_factor=True,
    )
    return {"device": "live-site-tv", "strict": "live-site-strict"}


@pytest.fixture(params=sorted(WIDTHS))
def browser_page(request, chromium):
    """A fresh browser (no cookies) at each width in turn; yields (page, width name)."""
    context = chromium.new_context(viewport=WIDTHS[request.param])
    yield context.new_page(), request.param
    context.close()


def looked_at(page, name, width):
    check_accessibility(page, f"{name} at {width}")
    shot(page, f"site-{name}-{width}")


def is_primary(button):
    return "primary" in (button.get_attribute("class") or "").split()


def test_home_demo_consent_device_and_oauth_pages(browser_page, live_server, env_values, site_clients):
    page, width = browser_page
    page.goto(f"{live_server}/")
    looked_at(page, "home", width)
    # Each endpoint's URL stays whole on one line at either width: no wrapping every few characters.
    url = page.locator('tr[data-key="authorization_endpoint"] code')
    assert url.inner_text() == f"{live_server}/o/authorize/"
    line_height = float(url.evaluate("(code) => parseFloat(getComputedStyle(code).lineHeight)"))
    assert url.bounding_box()["height"] < 2 * line_height

    page.goto(f"{live_server}/demo/")
    looked_at(page, "demo", width)
    page.get_by_role("button", name="Sign in with the demo client").click()
    page.get_by_label("Username").fill(env_values["DJANGO_SUPERUSER_USERNAME"])
    page.get_by_label("Password").fill(env_values["DJANGO_SUPERUSER_PASSWORD"])
    page.locator("main").get_by_role("button", name="Sign in", exact=True).click()

    allow = page.get_by_role("button", name="Allow")
    allow.wait_for()
    assert is_primary(allow) and not is_primary(page.get_by_role("button", name="Deny"))
    looked_at(page, "consent", width)
    allow.click()

    page.wait_for_url(f"{live_server}/demo/")
    check_demo_results(page)
    looked_at(page, "demo-result", width)

    page.goto(f"{live_server}/")
    looked_at(page, "home-signed-in", width)

    check_device_pages(page, width, live_server, site_clients["device"])

    authorize = f"{live_server}/o/authorize/?" + urlencode(
        {
            "client_id": site_clients["strict"],
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": f"{live_server}/demo/callback/",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
    )
    page.goto(authorize)
    assert page.locator("#enrol").is_visible() and page.locator("#continue").is_visible()
    looked_at(page, "second-factor-required", width)

    page.goto(f"{live_server}/o/authorize/?client_id=no-such-client&response_type=code")
    assert page.locator("h1").inner_text() == "This request cannot be completed"
    assert page.locator("#next-step").get_attribute("href") == "/"
    looked_at(page, "request-error", width)

    page.goto(f"{live_server}/o/logout/")
    sign_out = page.get_by_role("button", name="Sign out", exact=True).last
    assert is_primary(sign_out)
    looked_at(page, "logout-confirm", width)


def check_demo_results(page):
    """The ID token's times as dates (with the raw value kept), and the results before any "Sign in"."""
    # Django's timesince puts a no-break space between the number and the unit: \s matches it.
    for name, relative in (("exp", r"\(in \d+\s\w+\)"), ("iat", r"\((just now|\d+\s\w+ ago)\)")):
        claim = page.locator(f'[data-claim="{name}"]')
        raw = claim.get_attribute("data-value")
        assert re.fullmatch(r"\d{10}", raw), raw
        moment = claim.locator("time")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC " + relative, moment.inner_text()), (
            moment.inner_text()
        )
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", moment.get_attribute("datetime"))
        assert raw in moment.get_attribute("title") and raw in claim.locator(".raw-value").inner_text()
    results_top = page.locator("#id-token").bounding_box()["y"]
    sign_ins = page.get_by_role("button", name=re.compile("^Sign in")).all()
    assert [button.inner_text() for button in sign_ins] == ["Sign in again with the demo client"]
    assert all(button.bounding_box()["y"] > results_top for button in sign_ins)
    assert page.get_by_role("link", name="Sign in", exact=True).count() == 0


def check_device_pages(page, width, live_server, client_id):
    """RFC 8628: a device starts, the person enters its code, allows, and sees it connected."""
    started = checked().post(f"{live_server}/o/device-authorization/", data={"client_id": client_id})
    user_code = started.json()["user_code"]
    page.goto(f"{live_server}/o/device/")
    assert is_primary(page.get_by_role("button", name="Continue"))
    looked_at(page, "device-code", width)
    page.get_by_label("Code shown on your device").fill(user_code)
    page.get_by_role("button", name="Continue").click()
    allow = page.get_by_role("button", name="Allow")
    allow.wait_for()
    assert is_primary(allow)
    looked_at(page, "device-allow", width)
    allow.click()
    page.get_by_role("heading", name="Device connected").wait_for()
    assert page.locator("#next-step").get_attribute("href") == "/o/device/"
    looked_at(page, "device-connected", width)


def test_django_debug_pages_are_styled_under_the_policy(browser_page, live_server):
    page, width = browser_page
    blocked = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security" in message.text else None,
    )
    response = page.goto(f"{live_server}/no-such-page/")
    assert response.status == 404
    assert "style-src 'self' 'unsafe-inline'" in response.headers["content-security-policy"]
    # technical_404.html's own style: #summary on a pale yellow.
    summary = page.locator("#summary").evaluate("(element) => getComputedStyle(element).backgroundColor")
    assert summary == "rgb(255, 255, 204)"
    assert blocked == []
    shot(page, f"site-debug-404-{width}")


def test_error_pages_give_a_next_step(browser_page, production_like_server, outage_server):
    page, width = browser_page
    server = production_like_server
    home = page.goto(f"{server}/")
    assert home.headers["content-security-policy"] == PRODUCTION_POLICY

    response = page.goto(f"{server}/no-such-page/")
    assert response.status == 404
    # DEBUG off: Django's technical page never, and the policy is production's, unchanged.
    assert response.headers["content-security-policy"] == PRODUCTION_POLICY
    assert page.locator("#next-step").get_attribute("href") == "/"
    looked_at(page, "404", width)
    page.locator("#next-step").click()
    page.wait_for_url(f"{server}/")

    # More query fields than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS): 400.
    response = page.goto(f"{server}/accounts/login/?" + "&".join(f"f{number}=x" for number in range(1001)))
    assert response.status == 400
    assert response.headers["content-security-policy"] == PRODUCTION_POLICY
    assert page.locator("#next-step").get_attribute("href") == "/"
    looked_at(page, "400", width)

    # A sign-in form sent after its cookies are gone (a page left open, cookies cleared): the CSRF check's 403.
    page.goto(f"{server}/accounts/login/")
    page.context.clear_cookies()
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong password")
    page.locator("main").get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="This form has expired").wait_for()
    assert "CSRF cookie not set." in page.get_by_role("alert").inner_text()
    assert page.locator("#next-step").get_attribute("href") == "/accounts/login/"
    looked_at(page, "403-csrf", width)

    # Sign-in forms beyond ACCOUNT_RATE_LIMITS["login"]: 429, with the way back.
    for _ in range(5):
        page.goto(f"{server}/accounts/login/")
        if page.title().startswith("Too many attempts"):
            break
        page.get_by_label("Username").fill("nobody")
        page.get_by_label("Password").fill("wrong password")
        page.locator("main").get_by_role("button", name="Sign in", exact=True).click()
        if page.title().startswith("Too many attempts"):
            break
    assert page.title().startswith("Too many attempts")
    assert page.locator("#next-step").get_attribute("href") == "/accounts/login/"
    looked_at(page, "429", width)

    response = page.goto(f"{outage_server}/demo/")
    assert response.status == 503
    assert response.headers["content-security-policy"] == PRODUCTION_POLICY
    assert page.locator("#next-step").is_visible()
    looked_at(page, "503", width)
