"""
The device authorization grant (RFC 8628) against gunicorn with several workers, as a deploy runs
it: the pace of a device's polls and the count of wrong user codes hold whichever worker answers.

Authlib plays the device; the user answers through the server's real HTML forms. Every request
goes on a new connection, so the workers take turns at them.
"""

import os
import secrets
import socket
import time
import urllib.parse

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from .live import DEVICE_CODE_GRANT, checked, register_client, sign_in, submit
from .support import free_port, fresh_postgres_database, running_server, venv_manage

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
INTERVAL = 1
USER_CODE_FAILURES_PER_USER = 3


@pytest.fixture(scope="module")
def redis_url():
    redis = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((redis.hostname, redis.port), timeout=2).close()
    except OSError as error:
        pytest.skip(f"SKIPPED LOUDLY: no Redis answers at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture(scope="module")
def database_env(project):
    with fresh_postgres_database("device") as url:
        for command in (("migrate", "--noinput"), ("createsuperuser", "--noinput")):
            venv_manage(project, *command, DATABASE_URL=url)
        yield {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def server(project, database_env, redis_url):
    """gunicorn, three workers sharing the PostgreSQL database and a Redis cache; a short interval."""
    port = free_port()
    command = [
        str(project / ".venv/bin/gunicorn"),
        "--config=gunicorn.conf.py",
        "--workers=3",
        f"--bind=127.0.0.1:{port}",
        "config.wsgi",
    ]
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CACHE_URL": redis_url,
        "OAUTH_DEVICE_FLOW_INTERVAL": str(INTERVAL),
        "THROTTLE_USER_CODE_FAILURES_PER_USER": str(USER_CODE_FAILURES_PER_USER),
        # As behind a proxy: each test comes from an address of its own, whose count in the
        # shared Redis no earlier run has touched.
        "THROTTLE_IP_HEADER": "HTTP_X_FORWARDED_FOR",
        **database_env,
    }
    with running_server(project, command, f"http://127.0.0.1:{port}", **env) as url:
        yield url


def register_device_client(project, database_env, client_id, name):
    return register_client(
        project,
        database_env,
        client_id=client_id,
        name=name,
        client_type="public",
        authorization_grant_type=DEVICE_CODE_GRANT,
    )


@pytest.fixture(scope="module")
def device_client_id(project, database_env):
    return register_device_client(project, database_env, "live-device-tv", "Live device TV")


@pytest.fixture(scope="module")
def other_client_id(project, database_env):
    return register_device_client(project, database_env, "live-other-tv", "Another TV")


def new_connections(session):
    session.headers["Connection"] = "close"
    session.headers["X-Forwarded-For"] = (
        f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    )
    return checked(session)


def start(server, client_id):
    device = new_connections(OAuth2Session(client_id, token_endpoint_auth_method="none"))
    started = device.post(
        f"{server}/o/device-authorization/",
        data={"client_id": client_id, "scope": "read"},
        withhold_token=True,
    )
    assert started.status_code == 200, started.text
    return device, started.json()


def poll(device, server, codes):
    return device.fetch_token(
        f"{server}/o/token/", grant_type=DEVICE_CODE_GRANT, device_code=codes["device_code"]
    )


def poll_error(device, server, codes):
    with pytest.raises(OAuthError) as error:
        poll(device, server, codes)
    return error.value.error


def test_a_device_polling_too_fast_is_slowed_down_on_every_worker(server, device_client_id, other_client_id):
    device, codes = start(server, device_client_id)
    assert codes["interval"] == INTERVAL
    # Another client, however fast, is told what it would be told of a code that does not exist,
    # and its polls do not count as the device's.
    other, _ = start(server, other_client_id)
    unknown = poll_error(other, server, {"device_code": "no-such-code"})
    assert [poll_error(other, server, codes) for _ in range(3)] == [unknown] * 3 == ["invalid_grant"] * 3
    assert poll_error(device, server, codes) == "authorization_pending"
    assert poll_error(device, server, codes) == "slow_down"
    # RFC 8628 §3.5: 5 seconds more from then on, so the interval it was given is no longer enough.
    time.sleep(INTERVAL + 0.5)
    assert poll_error(device, server, codes) == "slow_down"


def test_a_user_code_typed_loosely_connects_the_device(server, device_client_id, env_values):
    device, codes = start(server, device_client_id)
    assert len(codes["user_code"]) == 9 and codes["user_code"][4] == "-"
    browser = new_connections(checked())
    code_page = sign_in(browser, browser.get(codes["verification_uri"]), env_values)
    typed = f" {codes['user_code'][:4].lower()} {codes['user_code'][5:].lower()} "
    confirm = submit(browser, code_page, user_code=typed)
    assert "Live device TV" in confirm.text
    assert "Device connected" in submit(browser, confirm, button=("action", "accept")).text
    assert poll(device, server, codes)["scope"] == "read"


def test_guessing_user_codes_is_paused_on_every_worker(project, server, device_client_id, database_env):
    guesser = {"username": f"guesser-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}
    venv_manage(
        project,
        "createsuperuser",
        "--noinput",
        DJANGO_SUPERUSER_USERNAME=guesser["username"],
        DJANGO_SUPERUSER_PASSWORD=guesser["password"],
        **database_env,
    )
    device, codes = start(server, device_client_id)
    browser = new_connections(checked())
    code_page = submit(
        browser,
        browser.get(codes["verification_uri"]),
        login=guesser["username"],
        password=guesser["password"],
    )
    for _ in range(USER_CODE_FAILURES_PER_USER):
        wrong = submit(browser, code_page, user_code="BBBB-BBBB")
        assert (wrong.status_code, "Incorrect user code" in wrong.text) == (200, True)
    paused = submit(browser, code_page, user_code=codes["user_code"])
    assert paused.status_code == 429
    assert 0 < int(paused.headers["Retry-After"]) <= 15 * 60
    # The right code was not even looked at: the device is still waiting for its user.
    assert poll_error(device, server, codes) == "authorization_pending"
