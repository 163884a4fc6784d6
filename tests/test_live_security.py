"""
A black-box security review of a live bake, as tests: what it found fixed stays fixed, and what
held keeps holding.

The shared SQLite `live_server` (local settings) takes the tests that fail no sign-in. Throttling,
timing and the development server's log run on a server of this module's own, with its own
cache and small limits, which reads each request's address from X-Forwarded-For: its lockouts
touch no other test. The shipped limits, and the admin's second factor as production has it, on
another such server. Production's cookies and pages run on gunicorn under production settings.
"""

import json
import secrets
import stat
import statistics
import time
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
import requests

from .live import checked, form_of, query_of, register_client, sign_in, submit
from .oauth_helpers import authorization_params, sign_in_and_consent, token_request
from .support import free_port, running_server, runserver_command, venv_manage

pytestmark = pytest.mark.slow

# The limits of this module's own server: allauth's failed sign-ins per address and per account
# (ACCOUNT_RATE_LIMIT_LOGIN_FAILED), and a client's failed authentications.
PER_ADDRESS = 4
PER_ACCOUNT = 3
PER_CLIENT = 3
# The shipped limit of failed sign-ins per address (ACCOUNT_RATE_LIMIT_LOGIN_FAILED's default), a
# fifth of the per-account one.
SHIPPED_PER_ADDRESS = 10
# What allauth's sign-in form says once a limit is reached.
PAUSED = "Too many failed login attempts"
PRODUCTION = {"DJANGO_SETTINGS_MODULE": "config.settings.production"}
PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


def address(label):
    """A fresh client address (TEST-NET-3, or per test a fresh one) for X-Forwarded-For."""
    return {"X-Forwarded-For": f"203.0.113.{label}" if isinstance(label, int) else label}


@pytest.fixture(scope="module")
def own_server(project, tmp_path_factory):
    """runserver on the live bake, with a cache of its own and small limits; (base_url, log file)."""
    log = tmp_path_factory.mktemp("own-server") / "runserver.log"
    port = free_port()
    with running_server(
        project,
        runserver_command(project, port),
        f"http://127.0.0.1:{port}",
        output=log,
        THROTTLE_IP_HEADER="HTTP_X_FORWARDED_FOR",
        ACCOUNT_RATE_LIMIT_LOGIN_FAILED=f"{PER_ADDRESS}/15m/ip,{PER_ACCOUNT}/15m/key",
        THROTTLE_CLIENT_FAILURES_PER_CLIENT=str(PER_CLIENT),
    ) as base_url:
        yield base_url, log


@pytest.fixture(scope="module")
def shipped_server(project):
    """runserver on the live bake with the shipped sign-in limits and, as in production, a second
    factor for the admin; each request's address from X-Forwarded-For, a cache of its own."""
    port = free_port()
    with running_server(
        project,
        runserver_command(project, port),
        f"http://127.0.0.1:{port}",
        THROTTLE_IP_HEADER="HTTP_X_FORWARDED_FOR",
        ADMIN_REQUIRES_MULTI_FACTOR="true",
    ) as base_url:
        yield base_url


CREATE_USERS = """
import json, os
from django.contrib.auth import get_user_model
for username, password in json.loads(os.environ["LIVE_TEST_USERS"]).items():
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
"""


@pytest.fixture(scope="module")
def users(project):
    """Users of this module's own (username: password), so no test locks out the admin."""
    accounts = {
        f"sec-{purpose}": secrets.token_urlsafe(18)
        for purpose in ("address", "spelling", "timing", "lockout")
    }
    venv_manage(project, "shell", "-c", CREATE_USERS, LIVE_TEST_USERS=json.dumps(accounts))
    return accounts


def post_sign_in(base_url, username, password, headers=(), path="/accounts/login/"):
    """Fill in the login form in a fresh browser, from the address in `headers`; the answer."""
    browser = checked()
    browser.headers.update(headers)
    page = browser.get(f"{base_url}{path}")
    return submit(browser, page, allow_redirects=False, login=username, password=password)


# 1. The per-account limit (allauth's, on the typed login stripped and lowercased) holds however
# the name is typed, from every address: it bounds the guesses at one account.


def paused(answer):
    return answer.status_code == 200 and PAUSED in answer.text


def test_a_paused_account_is_not_reached_under_another_spelling(own_server, users):
    base_url, _ = own_server
    username, password = "sec-spelling", users["sec-spelling"]
    # Attackers from several addresses, each below its own limit, use up the account's.
    for number in range(PER_ACCOUNT):
        answer = post_sign_in(base_url, username, "wrong", address(f"198.51.100.{30 + number}"))
        assert answer.status_code == 200 and not paused(answer)
    fullwidth = chr(ord(username[0]) + 0xFEE0) + username[1:]
    for spelling in (username, f" {username}", f"{username}\t", username.upper()):
        answer = post_sign_in(base_url, spelling, password, address("198.51.100.60"))
        assert paused(answer), (repr(spelling), answer.status_code, answer.text[:2000])
    # A look-alike name is no name of anyone's: it signs no one in.
    assert post_sign_in(base_url, fullwidth, password, address("198.51.100.61")).status_code == 200
    # The admin has no password form of its own to go round the limits: its sign-in, posted as a
    # browser would (CSRF token and all) with the right password, only leads to the site's.
    browser = checked()
    page = browser.get(f"{base_url}/admin/login/")
    assert urlsplit(page.url).path == "/accounts/login/"
    token = form_of(page, fields=["login"]).fields["csrfmiddlewaretoken"]
    admin_login = browser.post(
        f"{base_url}/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": page.url, **address("198.51.100.62")},
        allow_redirects=False,
    )
    assert admin_login.status_code == 302
    assert urlsplit(admin_login.headers["Location"]).path == "/accounts/login/"
    assert urlsplit(browser.get(f"{base_url}/admin/").url).path == "/accounts/login/"


# 2. The per-address limit: one address's failures across accounts stop that address, not the users.


def test_an_address_that_guesses_across_accounts_is_paused_and_no_one_else(own_server, users):
    base_url, _ = own_server
    username, password = "sec-address", users["sec-address"]
    attacker = address("198.51.100.80")
    for number in range(PER_ADDRESS):
        assert (
            post_sign_in(base_url, f"nobody-{number}-{secrets.token_hex(3)}", "wrong", attacker).status_code
            == 200
        )
    assert paused(post_sign_in(base_url, username, password, attacker))
    # The user, from an address of their own, signs in, again and again.
    for _ in range(2):
        answer = post_sign_in(base_url, username, password, address("198.51.100.81"))
        assert answer.status_code == 302, answer.text[:2000]


def test_one_address_cannot_pause_an_account_for_its_user(shipped_server, users):
    """With the shipped limits, an address's failures at an account stop that address (10) long
    before the account's limit (50): the user, from an address of their own, signs in."""
    username, password = "sec-lockout", users["sec-lockout"]
    attacker = address("198.51.100.90")
    for _ in range(SHIPPED_PER_ADDRESS):
        answer = post_sign_in(shipped_server, username, "wrong", attacker)
        assert answer.status_code == 200 and not paused(answer)
    assert paused(post_sign_in(shipped_server, username, password, attacker))
    for _ in range(2):
        answer = post_sign_in(shipped_server, username, password, address("198.51.100.91"))
        assert answer.status_code == 302, answer.text[:2000]


MAKE_STAFF = """
import os
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser(os.environ["LIVE_STAFF"], password=os.environ["LIVE_STAFF_PASSWORD"])
"""

ENROL_TOTP = """
import os
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
TOTP.activate(get_user_model().objects.get(username=os.environ["LIVE_STAFF"]), os.environ["LIVE_TOTP_SECRET"])
"""


def test_the_admin_asks_staff_for_a_second_factor(project, shipped_server):
    """ADMIN_REQUIRES_MULTI_FACTOR (production's default): a password opens no admin page."""
    username, password = f"sec-staff-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    venv_manage(project, "shell", "-c", MAKE_STAFF, LIVE_STAFF=username, LIVE_STAFF_PASSWORD=password)
    browser = checked()
    browser.headers.update(address("198.51.100.95"))
    login_page = browser.get(f"{shipped_server}/admin/")
    assert urlsplit(login_page.url).path == "/accounts/login/"
    # The first visit asks for a second factor to be enrolled, and shows no admin page.
    first_visit = submit(browser, login_page, login=username, password=password)
    assert first_visit.status_code == 403 and urlsplit(first_visit.url).path == "/admin/"
    assert "Set up a second factor first" in first_visit.text
    assert 'href="/accounts/2fa/"' in first_visit.text and "Site administration" not in first_visit.text
    # Once there is one, the password-only session is asked for it, then let in.
    secret = pyotp.random_base32()
    venv_manage(project, "shell", "-c", ENROL_TOTP, LIVE_STAFF=username, LIVE_TOTP_SECRET=secret)
    step_up = browser.get(f"{shipped_server}/admin/")
    assert urlsplit(step_up.url).path == "/accounts/2fa/reauthenticate/"
    totp = pyotp.TOTP(secret)
    # allauth takes a code in its own 30-second step only.
    left = totp.interval - time.time() % totp.interval
    if left < 3:
        time.sleep(left + 0.1)
    admin = submit(browser, step_up, code=totp.now())
    assert admin.status_code == 200 and urlsplit(admin.url).path == "/admin/"
    assert "Site administration" in admin.text


# 3. A paused client cannot sidestep its limit with a second authentication method.


def test_a_paused_client_cannot_hide_behind_a_junk_basic_header(own_server, env_values):
    base_url, _ = own_server
    client_id, secret = env_values["OAUTH_M2M_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_SECRET"]
    token_url = f"{base_url}/o/token/"
    form = {"grant_type": "client_credentials", "scope": "read"}
    for _ in range(PER_CLIENT):
        assert checked().post(token_url, data=form, auth=(client_id, "wrong")).status_code == 401
    assert checked().post(token_url, data=form, auth=(client_id, secret)).status_code == 429
    both = {**form, "client_id": client_id, "client_secret": secret}
    for endpoint in ("/o/token/", "/o/revoke_token/", "/o/introspect/"):
        answer = checked().post(
            f"{base_url}{endpoint}", data={**both, "token": "x"}, headers={"Authorization": "Basic am9rZTp4"}
        )
        assert answer.status_code == 400, (endpoint, answer.text)
        assert answer.json()["error"] == "invalid_request"
        assert "access_token" not in answer.text
    assert checked().post(token_url, data=both).status_code == 429


# 4. No cache keeps a page or an answer that carries a credential.


def no_store(response):
    return "no-store" in [part.strip() for part in response.headers.get("Cache-Control", "").split(",")]


def test_credentials_are_never_stored_by_a_cache(live_server, env_values):
    params, verifier = authorization_params(env_values)
    browser = checked()
    login_page = browser.get(f"{live_server}/o/authorize/?{urlencode(params)}")
    assert urlsplit(login_page.url).path == "/accounts/login/" and no_store(login_page)
    assert no_store(checked().get(f"{live_server}/admin/login/"))
    consent_page = sign_in(browser, login_page, env_values)
    assert "allow" in consent_page.text and no_store(consent_page)
    redirect = submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False)
    assert redirect.status_code == 302 and "code" in query_of(redirect.headers["Location"])
    assert no_store(redirect)
    tokens = token_request(
        live_server,
        env_values,
        grant_type="authorization_code",
        code=query_of(redirect.headers["Location"])["code"],
        redirect_uri=params["redirect_uri"],
        code_verifier=verifier,
    )
    assert tokens.status_code == 200 and no_store(tokens)
    assert no_store(checked().get(f"{live_server}/demo/callback/", params={"code": "abc"}))


# 5. The session: host-only cookies in production, a working day long.

SESSION_AGE = 8 * 60 * 60


@pytest.fixture(scope="module")
def production_server(project, env_values):
    """gunicorn under production settings on plain http (no TLS here: SSL redirect off), on the live
    bake's database, with the static files collected as the deploy steps say."""
    port = free_port()
    # Production settings read no .env: everything they require is given, as on a server.
    production = {
        **PRODUCTION,
        "DJANGO_SECRET_KEY": env_values["DJANGO_SECRET_KEY"],
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{project / 'db.sqlite3'}",
        "OAUTH_ISSUER": f"https://127.0.0.1:{port}",
        "EMAIL_URL": "smtp://127.0.0.1:1",
    }
    venv_manage(project, "collectstatic", "--noinput", **production)
    command = [
        str(project / ".venv/bin/gunicorn"),
        "--config=gunicorn.conf.py",
        "--workers=1",
        f"--bind=127.0.0.1:{port}",
        "config.wsgi",
    ]
    with running_server(
        project, command, f"http://127.0.0.1:{port}", **production, DJANGO_SECURE_SSL_REDIRECT="false"
    ) as base_url:
        yield base_url


def cookie_attributes(response, name):
    """The attributes of the cookie `name` the response sets, lower-cased: {"max-age": "28800", "secure": ""...}."""
    set_cookies = response.raw.headers.getlist("Set-Cookie")
    [cookie] = [header for header in set_cookies if header.startswith(f"{name}=")] or [""]
    assert cookie, f"no {name} cookie in {set_cookies!r}"
    attributes = [attribute.strip().partition("=") for attribute in cookie.split(";")[1:]]
    return {key.lower(): value for key, _, value in attributes}


def test_production_session_cookies_are_host_only_and_last_a_working_day(production_server, env_values):
    login_page = checked().get(f"{production_server}/accounts/login/")
    csrf = cookie_attributes(login_page, "__Host-csrftoken")
    assert {"secure", "path"} <= csrf.keys() and csrf["path"] == "/" and "domain" not in csrf
    # Over TLS a browser would send the Secure cookie back; requests keeps it to https.
    form = form_of(login_page, fields=("login", "password"))
    answer = checked().post(
        f"{production_server}/accounts/login/",
        data={
            **form.fields,
            "login": env_values["DJANGO_SUPERUSER_USERNAME"],
            "password": env_values["DJANGO_SUPERUSER_PASSWORD"],
        },
        headers={"Cookie": f"__Host-csrftoken={login_page.cookies['__Host-csrftoken']}"},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:2000]
    session = cookie_attributes(answer, "__Host-sessionid")
    assert session["max-age"] == str(SESSION_AGE)
    assert {"secure", "httponly"} <= session.keys() and session["samesite"] == "Lax"
    assert session["path"] == "/" and "domain" not in session


def test_a_local_sign_in_lasts_a_working_day(live_server, env_values):
    params, _ = authorization_params(env_values)
    browser = checked()
    consent_page = sign_in(
        browser, browser.get(f"{live_server}/o/authorize/?{urlencode(params)}"), env_values
    )
    assert "allow" in consent_page.text
    [session] = [cookie for cookie in browser.cookies if cookie.name == "sessionid"]
    assert SESSION_AGE - 120 < session.expires - time.time() <= SESSION_AGE


# 6. The development server's log has no query string.


def log_once_written(log, lines, seconds=10):
    """The server's output once it holds every one of `lines`: runserver logs a request after answering it."""
    deadline = time.monotonic() + seconds
    while not all(line in (text := log.read_text()) for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
    return text


def test_the_development_server_logs_no_code_state_or_id_token_hint(own_server, env_values):
    base_url, log = own_server
    params, verifier = authorization_params(env_values, state=f"state-{secrets.token_hex(8)}")
    answer, _ = sign_in_and_consent(base_url, env_values, params)
    # The demo client's browser lands on the callback with the code in the query string.
    landed = checked().get(f"{base_url}/demo/callback/", params=answer)
    # The demo refuses it (it did not start this sign-in) and echoes no code.
    assert landed.status_code == 400 and answer["code"] not in landed.text
    tokens = token_request(
        base_url,
        env_values,
        grant_type="authorization_code",
        code=answer["code"],
        redirect_uri=params["redirect_uri"],
        code_verifier=verifier,
    ).json()
    logout = checked().get(
        f"{base_url}/o/logout/", params={"id_token_hint": tokens["id_token"], "state": "bye"}
    )
    assert logout.status_code == 200
    expected = ['"GET /demo/callback/ HTTP/1.1" 400', '"GET /o/logout/ HTTP/1.1"']
    text = log_once_written(log, expected)
    assert [line for line in expected if line not in text] == []
    leaked = {"code": answer["code"], "state": params["state"], "id_token_hint": tokens["id_token"]}
    assert [name for name, value in leaked.items() if value in text] == []


# 7. The SQLite database is its owner's only.


def test_the_sqlite_database_is_private(project):
    """Made by the setup hook's migrate (the `project` bake is run_setup=y), then used by the servers."""
    files = sorted(project.glob("db.sqlite3*"))
    assert project / "db.sqlite3" in files
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
        path.name: 0o600 for path in files
    }


# 8. No demo page in production.


def test_production_serves_no_demo_page(production_server, live_server):
    query = {"error": "access_denied", "error_description": "Call +1 555 0100 to unlock your account"}
    production = checked().get(f"{production_server}/demo/callback/", params=query)
    assert production.status_code == 404 and "555 0100" not in production.text
    # Served locally: it refuses an answer to a sign-in it did not start.
    assert checked().get(f"{live_server}/demo/callback/", params=query).status_code == 400
    assert checked().get(f"{production_server}/demo/").status_code == 404
    assert checked().get(f"{live_server}/demo/").status_code == 200


# What held in the review, kept.

DEMO_REDIRECT_URI = "http://127.0.0.1:8000/demo/callback/"
# What seed_oauth_clients registers besides: the demo's callback on the bake's issuer.
DEMO_ISSUER_REDIRECT_URI = "http://localhost:8000/demo/callback/"
REGISTERED_HTTPS_URI = "https://rp.example/callback"
REFUSED_REDIRECT_URIS = {
    "demo": [
        "http://127.0.0.2:8000/demo/callback/",  # another host
        "http://localhost:8001/demo/callback/",  # a name of the loopback: its port counts
        "http://[::1]:8000/demo/callback/",
        "https://127.0.0.1:8000/demo/callback/",  # another scheme
        "http://127.0.0.1:8000/demo/callback/x",  # path suffix
        "http://127.0.0.1:8000/demo/callbackx/",
        "http://127.0.0.1:8000/demo/callback/../",
        "http://127.0.0.1:8000/demo/",  # path prefix
        "http://127.0.0.1:8000/demo/callback",  # trailing slash dropped
        "http://127.0.0.1:8000/demo/callback//",  # and doubled
        "http://127.0.0.1:8000/demo/callback/?next=https://evil.example/",  # query added
        "http://127.0.0.1:8000/demo/callback/#fragment",  # fragment
        "http://127.0.0.1:8000@evil.example/demo/callback/",  # userinfo
        "http://evil.example@127.0.0.1:8000/demo/callback/",
        "http://127.0.0.1:8000/DEMO/CALLBACK/",  # case
        "http://127.0.0.1:8000/demo/%63allback/",  # encoded characters
        "http://127.0.0.1:8000/demo/callback%2F",
        "http://127.0.0.1:8000/demo/callback/%2e%2e/",
        "http://127.0.0.1.:8000/demo/callback/",  # trailing dot
        "http://127.0.0.1:8000\\@evil.example/demo/callback/",  # backslash
        "http://2130706433:8000/demo/callback/",  # the loopback address spelt otherwise
        "javascript://127.0.0.1:8000/demo/callback/%0aalert(1)",
    ],
    "https": [
        "https://rp.example:8443/callback",  # port, on a host that is not the loopback
        "http://rp.example/callback",
        "https://rp.example/callback/",
        "https://rp.example/Callback",  # the path's case (a host's is no change: RFC 3986 §3.2.2)
        "https://rp.example./callback",
        "https://rp.example.evil.example/callback",
        "https://evil.example/rp.example/callback",
        "https://rp.example/callback?x=1",
        "https://user@rp.example/callback",
        "https://rp.example%2eevil.example/callback",
    ],
}


@pytest.fixture(scope="module")
def https_client_id(project, live_server):
    return register_client(
        project,
        {},
        client_id="live-test-security-https",
        client_secret=secrets.token_urlsafe(48),
        name="Live test security https client",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=REGISTERED_HTTPS_URI,
        algorithm="RS256",
    )


@pytest.fixture(scope="module")
def signed_in_browser(live_server, env_values):
    browser = checked()
    login_page = browser.get(f"{live_server}/accounts/login/")
    assert sign_in(browser, login_page, env_values).status_code == 200
    return browser


@pytest.mark.parametrize(
    ("client", "redirect_uri"),
    [(client, uri) for client, uris in REFUSED_REDIRECT_URIS.items() for uri in uris],
)
def test_a_redirect_uri_that_is_not_registered_exactly_is_refused(
    live_server, signed_in_browser, env_values, https_client_id, client, redirect_uri
):
    """RFC 9700 §4.1.3, RFC 6749 §4.1.2.1: told to the user, never redirected to."""
    params, _ = authorization_params(env_values)
    params["redirect_uri"] = redirect_uri
    if client == "https":
        params["client_id"] = https_client_id
    answer = signed_in_browser.get(f"{live_server}/o/authorize/", params=params, allow_redirects=False)
    assert answer.status_code == 400, answer.text[:2000]
    assert "Location" not in answer.headers
    assert 'name="allow"' not in answer.text


def test_the_registered_redirect_uris_still_work(live_server, signed_in_browser, env_values, https_client_id):
    """The control of the test above: exactly the registered URIs reach the consent page."""
    for client_id, redirect_uri in (
        (env_values["OAUTH_DEMO_CLIENT_ID"], DEMO_REDIRECT_URI),
        (env_values["OAUTH_DEMO_CLIENT_ID"], DEMO_ISSUER_REDIRECT_URI),
        (https_client_id, REGISTERED_HTTPS_URI),
    ):
        params, _ = authorization_params(env_values)
        params.update(client_id=client_id, redirect_uri=redirect_uri)
        answer = signed_in_browser.get(f"{live_server}/o/authorize/", params=params, allow_redirects=False)
        assert answer.status_code == 200 and "allow" in answer.text, redirect_uri


def test_every_echoed_value_is_escaped(live_server, signed_in_browser, env_values):
    hostile = {"code": PAYLOAD, "state": PAYLOAD, "error": PAYLOAD, "error_description": PAYLOAD}
    params, _ = authorization_params(env_values)
    # The demo echoes the server's error only for a sign-in it started: its state.
    demo = checked()
    started = submit(demo, demo.get(f"{live_server}/demo/"), allow_redirects=False)
    hostile["state"] = query_of(started.headers["Location"])["state"]
    pages = {
        "demo callback error": demo.get(f"{live_server}/demo/callback/", params=hostile),
        "demo callback code": checked().get(f"{live_server}/demo/callback/", params={"code": PAYLOAD}),
        "login next": checked().get(f"{live_server}/accounts/login/", params={"next": PAYLOAD}),
        "authorization error": signed_in_browser.get(
            f"{live_server}/o/authorize/", params={**params, "client_id": PAYLOAD, "state": PAYLOAD}
        ),
        "redirect_uri error": signed_in_browser.get(
            f"{live_server}/o/authorize/", params={**params, "redirect_uri": PAYLOAD}
        ),
        "logout": checked().get(
            f"{live_server}/o/logout/",
            params={"id_token_hint": PAYLOAD, "post_logout_redirect_uri": PAYLOAD, "state": PAYLOAD},
        ),
        "not found": checked().get(f"{live_server}/{PAYLOAD}"),
    }
    for name, page in pages.items():
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["demo callback error"].text
    # A code is never echoed: the demo refuses one it did not ask for.
    assert (
        pages["demo callback code"].status_code == 400 and "alert(1)" not in pages["demo callback code"].text
    )


def test_every_form_is_protected_against_csrf(live_server, env_values):
    """Each form posted without its CSRF token, by a browser that has the cookie, is 403 and does nothing."""
    anonymous = checked()
    login_page = anonymous.get(f"{live_server}/accounts/login/")
    credentials = {
        "login": env_values["DJANGO_SUPERUSER_USERNAME"],
        "password": env_values["DJANGO_SUPERUSER_PASSWORD"],
    }
    assert anonymous.post(login_page.url, data=credentials).status_code == 403
    # The admin's sign-in (which only leads to that page) too.
    admin_login = anonymous.post(f"{live_server}/admin/login/", data=credentials, allow_redirects=False)
    assert admin_login.status_code == 403 and anonymous.get(f"{live_server}/admin/").url.startswith(
        f"{live_server}/accounts/login/"
    )
    browser = checked()
    params, _ = authorization_params(env_values)
    consent_page = sign_in(
        browser, browser.get(f"{live_server}/o/authorize/?{urlencode(params)}"), env_values
    )
    consent_form = form_of(consent_page, button=("allow", "Authorize"))
    fields = {name: value for name, value in consent_form.fields.items() if name != "csrfmiddlewaretoken"}
    consent = browser.post(consent_page.url, data={**fields, "allow": "Authorize"}, allow_redirects=False)
    assert consent.status_code == 403 and "Location" not in consent.headers
    assert browser.post(f"{live_server}/accounts/logout/", allow_redirects=False).status_code == 403
    assert (
        browser.post(f"{live_server}/o/logout/", data={"allow": "Logout"}, allow_redirects=False).status_code
        == 403
    )
    # Still signed in: none of them did anything.
    assert browser.get(f"{live_server}/admin/", allow_redirects=False).status_code == 200


def test_no_page_can_be_framed(live_server, signed_in_browser, env_values):
    params, _ = authorization_params(env_values)
    pages = [
        checked().get(f"{live_server}/accounts/login/"),
        checked().get(f"{live_server}/admin/login/"),
        checked().get(f"{live_server}/demo/callback/", params={"code": "x"}),
        signed_in_browser.get(f"{live_server}/o/authorize/", params=params),
        signed_in_browser.get(f"{live_server}/o/authorize/", params={**params, "client_id": "nobody"}),
    ]
    # The logout page, in a browser of its own: its answer would end the shared one's session.
    browser = checked()
    sign_in(browser, browser.get(f"{live_server}/accounts/login/"), env_values)
    pages.append(browser.get(f"{live_server}/o/logout/"))
    for page in pages:
        assert page.headers["X-Frame-Options"] == "DENY", page.url
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], page.url


ANONYMOUS_SESSION = """
from django.contrib.sessions.backends.db import SessionStore
session = SessionStore()
session["planted"] = True
session.create()
print(session.session_key)
"""


def test_the_session_id_changes_at_sign_in(project, live_server, env_values):
    """Session fixation: a session id planted before the sign-in is worth nothing after it."""
    planted = venv_manage(project, "shell", "-c", ANONYMOUS_SESSION).stdout.strip().splitlines()[-1]
    browser = checked()
    browser.cookies.set("sessionid", planted, domain=urlsplit(live_server).hostname)
    params, _ = authorization_params(env_values)
    assert (
        sign_in(
            browser, browser.get(f"{live_server}/o/authorize/?{urlencode(params)}"), env_values
        ).status_code
        == 200
    )
    assert browser.cookies.get("sessionid") not in {None, planted}
    with_planted_id = requests.Session()
    with_planted_id.cookies.set("sessionid", planted)
    assert checked(with_planted_id).get(f"{live_server}/admin/", allow_redirects=False).status_code == 302
    assert browser.get(f"{live_server}/admin/", allow_redirects=False).status_code == 200


def test_a_wrong_password_takes_as_long_as_an_unknown_user(own_server, users):
    """Django hashes a dummy password for an unknown user: no timing tells which accounts exist."""
    base_url, _ = own_server
    durations = {"wrong password": [], "unknown user": []}
    # As many as the account's limit lets allauth check the password of.
    for attempt in range(PER_ACCOUNT):
        for case, username in (
            ("wrong password", "sec-timing"),
            ("unknown user", f"nobody-{secrets.token_hex(6)}"),
        ):
            browser = checked()
            browser.headers.update(address(f"198.51.100.{100 + attempt}"))
            page = browser.get(f"{base_url}/accounts/login/")
            started = time.perf_counter()
            answer = submit(browser, page, login=username, password=f"wrong-{attempt}")
            durations[case].append(time.perf_counter() - started)
            assert answer.status_code == 200, case
    wrong, unknown = (statistics.median(values) for values in durations.values())
    assert 1 / 3 < wrong / unknown < 3, durations
