"""The device authorization grant (RFC 8628), as authserver/endpoints/device.py and device_codes.py complete DOT's."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_device_grant_model

from .support import (
    DEVICE_CODE_GRANT,
    PASSWORD,
    enter_user_code,
    poll_for_device_token,
    start_device_flow,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_device_client(application_model):
    def make(client_id="tv-app", **fields):
        return application_model.objects.create(
            name="Living-room TV",
            client_id=client_id,
            client_type=application_model.CLIENT_PUBLIC,
            authorization_grant_type=application_model.GRANT_DEVICE_CODE,
            **fields,
        )

    return make


@pytest.fixture
def device_client(make_device_client):
    return make_device_client()


def answer(client, user, user_code, action):
    """The user signs in, enters the code on the device page and allows or denies."""
    client.login(username=user.username, password=PASSWORD)
    entered = enter_user_code(client, user_code)
    assert entered.status_code == 302, entered.content
    assert client.get(entered["Location"]).status_code == 200
    return client.post(entered["Location"], {"action": action})


def test_device_flow_issues_one_token_after_approval(client, device_client, user):
    started = start_device_flow(client)
    assert started.status_code == 200, started.content
    codes = started.json()
    assert codes["verification_uri"] == "http://testserver/o/device/"
    assert codes["verification_uri_complete"] == f"http://testserver/o/device/?user_code={codes['user_code']}"
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"

    assert answer(client, user, codes["user_code"], "accept").status_code == 302
    token = poll_for_device_token(client, codes["device_code"])
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "read" and "refresh_token" in token.json()
    # RFC 8628 §3.5: the session is over; the code gives no second token.
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "expired_token"


def test_the_device_page_says_which_clients_no_one_vouches_for(client, make_device_client, user):
    """RFC 8628 §5.4, RFC 7591 §5: a client that registered itself chose its name; the page says so."""
    client.login(username=user.username, password=PASSWORD)
    for client_id, source, marked in (("tv-app", "manual", False), ("self-registered-tv", "dcr", True)):
        make_device_client(client_id, registration_source=source)
        codes = start_device_flow(client, client_id=client_id).json()
        page = client.get(enter_user_code(client, codes["user_code"])["Location"])
        assert page.status_code == 200
        assert ("Not verified by" in page.content.decode()) is marked, client_id


def test_resources_of_a_device_token_are_checked_and_bind_it(client, device_client, user, application_model):
    """RFC 8707 §2: an unknown resource is invalid_target at the device authorization endpoint and
    at the token endpoint; a device code keeps no resource, so a known one is named in the token
    request (§2.2), where it binds the token."""
    for resource in ("https://unknown.example.com/", "https://api.example.com/"):
        refused = start_device_flow(client, resource=resource)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_target"), resource
    assert not get_device_grant_model().objects.exists()

    codes = start_device_flow(client).json()
    answer(client, user, codes["user_code"], "accept")
    unknown = poll_for_device_token(client, codes["device_code"], resource="https://unknown.example.com/")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_target")
    token = poll_for_device_token(client, codes["device_code"], resource="https://api.example.com/")
    assert token.status_code == 200, token.content
    stored = device_client.accesstoken_set.get()
    assert stored.resource == ["https://api.example.com/"]


def test_denied_device_gets_access_denied(client, device_client, user):
    codes = start_device_flow(client).json()
    answer(client, user, codes["user_code"], "deny")
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "access_denied"


def test_expired_device_code_gets_expired_token(client, device_client):
    codes = start_device_flow(client).json()
    get_device_grant_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "expired_token"


def test_a_device_code_only_works_for_its_own_client(client, device_client, make_device_client, user):
    make_device_client("other-app")
    codes = start_device_flow(client).json()
    answer(client, user, codes["user_code"], "accept")
    stolen = poll_for_device_token(client, codes["device_code"], client_id="other-app")
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    assert poll_for_device_token(client, codes["device_code"]).status_code == 200


@pytest.mark.parametrize(
    ("device_code", "error"), [(None, "invalid_request"), ("no-such-code", "invalid_grant")]
)
def test_bad_device_codes_get_rfc_errors(client, device_client, device_code, error):
    data = {"grant_type": DEVICE_CODE_GRANT, "client_id": "tv-app"}
    if device_code:
        data["device_code"] = device_code
    response = client.post("/o/token/", data)
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_device_authorization_refuses_bad_requests(client, device_client, m2m_client):
    assert start_device_flow(client, scope="admin").json()["error"] == "invalid_scope"
    m2m = {"client_id": m2m_client.client_id, "client_secret": m2m_client.client_secret}
    assert start_device_flow(client, **m2m).json()["error"] == "unauthorized_client"
    assert start_device_flow(client, client_id="nobody").json()["error"] == "invalid_client"
    no_body = client.post("/o/device-authorization/", content_type="")
    assert (no_body.status_code, no_body.json()["error"]) == (400, "invalid_request")
    bad_query = client.post(
        "/o/device-authorization/?%ZZ", "client_id=tv-app", content_type="application/x-www-form-urlencoded"
    )
    assert (bad_query.status_code, bad_query.json()["error"]) == (400, "invalid_request")
    assert not get_device_grant_model().objects.exists()


# slow_down: RFC 8628 §3.5


def last_poll_was(seconds_ago):
    """As if the device had waited: its last poll moved `seconds_ago` into the past."""
    get_device_grant_model().objects.update(last_checked=timezone.now() - timedelta(seconds=seconds_ago))


def test_a_device_polling_too_fast_is_slowed_down_for_good(client, device_client, settings):
    # DOT builds each view's oauthlib server once, unless told to build it anew.
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "DEVICE_FLOW_INTERVAL": 2,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    codes = start_device_flow(client).json()
    assert codes["interval"] == 2
    # The first poll may come at once; the next one not.
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"
    too_soon = poll_for_device_token(client, codes["device_code"])
    assert (too_soon.status_code, too_soon.json()["error"]) == (400, "slow_down")
    # From now on the device waits 5 seconds more: 2 are no longer enough, 7 are.
    last_poll_was(3)
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "slow_down"
    last_poll_was(13)
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"
    assert get_device_grant_model().objects.get().interval == 12


def test_a_device_keeping_the_interval_is_never_slowed_down(client, device_client, user):
    codes = start_device_flow(client).json()
    for _ in range(3):
        last_poll_was(codes["interval"])
        assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"
    answer(client, user, codes["user_code"], "accept")
    last_poll_was(codes["interval"])
    assert poll_for_device_token(client, codes["device_code"]).status_code == 200


def test_slow_down_tells_another_client_nothing(client, device_client, make_device_client):
    make_device_client("other-app")
    codes = start_device_flow(client).json()
    poll_for_device_token(client, codes["device_code"])
    unknown = poll_for_device_token(client, "no-such-code", client_id="other-app")
    for _ in range(3):
        stolen = poll_for_device_token(client, codes["device_code"], client_id="other-app")
        assert (stolen.status_code, stolen.json()["error"]) == (unknown.status_code, unknown.json()["error"])
    # Nor do its polls slow the device down.
    last_poll_was(codes["interval"])
    assert poll_for_device_token(client, codes["device_code"]).json()["error"] == "authorization_pending"


# User codes: RFC 8628 §6.1, §5.1


def test_user_codes_are_readable_and_unambiguous(client, device_client):
    for _ in range(20):
        user_code = start_device_flow(client).json()["user_code"]
        assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", user_code), user_code
    assert len(set(get_device_grant_model().objects.values_list("user_code", flat=True))) == 20


def test_a_user_code_is_matched_whatever_its_case_and_separators(client, device_client, user):
    typings = [
        str.lower,
        lambda code: code.replace("-", ""),
        lambda code: f" {code[:4]} {code[-4:]} ".lower(),
    ]
    for typed in typings:
        codes = start_device_flow(client).json()
        assert answer(client, user, typed(codes["user_code"]), "accept").status_code == 302
        assert poll_for_device_token(client, codes["device_code"]).status_code == 200


# Guessing user codes: RFC 8628 §5.1

LIMIT = 3


@pytest.fixture
def small_limits(settings):
    settings.THROTTLE_USER_CODE_FAILURES_PER_USER = LIMIT
    settings.THROTTLE_USER_CODE_FAILURES_PER_IP = 2 * LIMIT


def test_a_user_entering_wrong_codes_is_paused_even_for_the_right_one(
    client, device_client, user, small_limits
):
    codes = start_device_flow(client).json()
    client.login(username=user.username, password=PASSWORD)
    for _ in range(LIMIT):
        assert enter_user_code(client, "BBBB-BBBB").status_code == 200
    paused = enter_user_code(client, codes["user_code"])
    assert paused.status_code == 429
    assert 0 < int(paused["Retry-After"]) <= 15 * 60
    assert b"Too many wrong device codes" in paused.content
    # The code was not even looked at; the user, not the address, is paused.
    assert get_device_grant_model().objects.get().user is None
    assert enter_user_code(client, codes["user_code"], address="198.51.100.7").status_code == 429


def test_an_address_entering_wrong_codes_is_paused_across_users(
    client, device_client, user, django_user_model, small_limits
):
    codes = start_device_flow(client).json()
    for number in range(2):
        guesser = django_user_model.objects.create_user(username=f"guesser{number}", password=PASSWORD)
        client.force_login(guesser)
        for _ in range(LIMIT):
            enter_user_code(client, "BBBB-BBBB")
    client.force_login(user)
    assert enter_user_code(client, codes["user_code"]).status_code == 429
    assert enter_user_code(client, codes["user_code"], address="198.51.100.7").status_code == 302


def test_right_codes_never_count_and_clear_nothing(client, device_client, user, small_limits):
    client.login(username=user.username, password=PASSWORD)
    for _ in range(2 * LIMIT):
        assert enter_user_code(client, start_device_flow(client).json()["user_code"]).status_code == 302
    for _ in range(LIMIT - 1):
        enter_user_code(client, "BBBB-BBBB")
    assert enter_user_code(client, start_device_flow(client).json()["user_code"]).status_code == 302
    enter_user_code(client, "BBBB-BBBB")
    assert enter_user_code(client, start_device_flow(client).json()["user_code"]).status_code == 429
