"""Brute-force throttling of sign-ins and client authentications (throttling.py)."""

import pytest

from .conftest import PASSWORD, Credentials, project_module

throttling = project_module("middleware.throttling")

pytestmark = pytest.mark.django_db

LIMIT = 3
ACCOUNT_LIMIT = 3 * LIMIT


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.THROTTLE_LOGIN_FAILURES_PER_ACCOUNT_AND_IP = LIMIT
    settings.THROTTLE_LOGIN_FAILURES_PER_ACCOUNT = ACCOUNT_LIMIT
    settings.THROTTLE_LOGIN_FAILURES_PER_IP = 2 * LIMIT
    settings.THROTTLE_CLIENT_FAILURES_PER_CLIENT = LIMIT
    settings.THROTTLE_CLIENT_FAILURES_PER_IP = 2 * LIMIT


def sign_in(client, username, password, path="/accounts/login/", address="192.0.2.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def client_credentials(client, credentials, address="192.0.2.1", path="/o/token/"):
    return client.post(
        path,
        {"grant_type": "client_credentials", "token": "x"},
        HTTP_AUTHORIZATION=credentials.basic_auth,
        REMOTE_ADDR=address,
    )


def assert_retry_after(response):
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_an_address_is_paused_for_an_account_after_repeated_failures_even_for_the_right_password(
    client, user
):
    for _ in range(LIMIT):
        assert sign_in(client, user.username, "wrong").status_code == 200
    response = sign_in(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert_retry_after(response)
    assert b"Too many failed sign-in attempts" in response.content
    assert not client.get("/").context["user"].is_authenticated
    # The account at that address only: whoever failed cannot lock the user out elsewhere.
    assert sign_in(client, user.username, PASSWORD, address="198.51.100.7").status_code == 302


def test_failures_from_many_addresses_pause_the_account_only_where_it_failed(client, user):
    for number in range(ACCOUNT_LIMIT):
        address = f"203.0.113.{number // (LIMIT - 1)}"  # each below its own limit for the account
        assert sign_in(client, user.username, "wrong", address=address).status_code == 200
    # Past the account's limit, an address that failed for it is refused, the right password too.
    assert sign_in(client, user.username, PASSWORD, address="203.0.113.0").status_code == 429
    # An address that has not failed still has its password checked: one guess, then it is refused.
    assert sign_in(client, user.username, "wrong", address="198.51.100.20").status_code == 200
    assert sign_in(client, user.username, PASSWORD, address="198.51.100.20").status_code == 429
    # And the user, signing in from an address of their own, gets in.
    assert sign_in(client, user.username, PASSWORD, address="198.51.100.7").status_code == 302


@pytest.mark.parametrize("spelling", [" alice", "alice\t", "\uff41lice", "ALICE", "Alice\u00a0"])
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_every_spelling_of_a_username_counts_for_its_account(client, user, spelling, path):
    """The username as Django's authentication reads it (strip, NFKC), casefolded: a paused
    account is not reached again under another spelling, which Django would sign in."""
    user.is_staff = True
    user.save()
    for _ in range(LIMIT):
        assert sign_in(client, user.username, "wrong", path=path).status_code == 200
    assert sign_in(client, spelling, "wrong", path=path).status_code == 429
    assert sign_in(client, spelling, PASSWORD, path=path).status_code == 429
    client.logout()
    # The other way round: failures under that spelling count for the account.
    for _ in range(LIMIT):
        assert sign_in(client, spelling, "wrong", path=path, address="198.51.100.9").status_code == 200
    assert sign_in(client, user.username, PASSWORD, path=path, address="198.51.100.9").status_code == 429


def test_the_addresses_of_one_ipv6_network_count_as_one(client, user):
    for number in range(2 * LIMIT):
        address = f"2001:db8:0:1::{number + 1}"
        assert sign_in(client, f"guess{number}", "wrong", address=address).status_code == 200
    assert sign_in(client, user.username, PASSWORD, address="2001:db8:0:1:ffff::9").status_code == 429
    assert sign_in(client, user.username, PASSWORD, address="2001:db8:0:2::1").status_code == 302


def test_an_address_is_paused_after_failures_across_accounts(client, user):
    for number in range(2 * LIMIT):
        assert sign_in(client, f"guess{number}", "wrong").status_code == 200
    assert sign_in(client, user.username, PASSWORD).status_code == 429
    assert sign_in(client, user.username, PASSWORD, address="198.51.100.7").status_code == 302


def test_a_successful_sign_in_clears_the_accounts_failures(client, user):
    for _ in range(LIMIT - 1):
        sign_in(client, user.username, "wrong")
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        sign_in(client, user.username, "wrong")
    assert sign_in(client, user.username, PASSWORD).status_code == 302


def test_successful_sign_ins_never_count(client, user):
    for _ in range(3 * LIMIT):
        assert sign_in(client, user.username, PASSWORD).status_code == 302
        client.logout()


def test_the_admin_login_is_throttled_too(client, user):
    for _ in range(LIMIT):
        assert sign_in(client, user.username, "wrong", path="/admin/login/").status_code == 200
    assert sign_in(client, user.username, PASSWORD, path="/admin/login/").status_code == 429


def test_the_pause_ends_with_the_window(client, user, monkeypatch):
    now = 1_000_000 * 900.0
    monkeypatch.setattr(throttling, "clock", lambda: now)
    for _ in range(LIMIT):
        sign_in(client, user.username, "wrong")
    assert sign_in(client, user.username, PASSWORD).status_code == 429
    monkeypatch.setattr(throttling, "clock", lambda: now + 900)
    assert sign_in(client, user.username, PASSWORD).status_code == 302


@pytest.mark.parametrize("path", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_a_client_is_paused_after_repeated_failed_authentications(client, m2m_client, path):
    wrong = Credentials(m2m_client.client_id, "wrong-secret")
    for _ in range(LIMIT):
        assert client_credentials(client, wrong, path=path).status_code == 401
    response = client_credentials(client, m2m_client, path=path)
    assert response.status_code == 429
    assert_retry_after(response)
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_client"
    assert client_credentials(client, m2m_client, address="198.51.100.7", path=path).status_code == 429


@pytest.mark.parametrize("path", ["/o/token/", "/o/introspect/", "/o/revoke_token/"])
def test_a_paused_client_cannot_hide_behind_a_second_authentication_method(client, m2m_client, path):
    wrong = Credentials(m2m_client.client_id, "wrong-secret")
    for _ in range(LIMIT):
        assert client_credentials(client, wrong, path=path).status_code == 401
    in_the_body = {"client_id": m2m_client.client_id, "client_secret": m2m_client.client_secret}
    form = {"grant_type": "client_credentials", "token": "x", **in_the_body}
    for junk in ("Basic", "Basic ", "Basic !!!", Credentials("someone-else", "x").basic_auth):
        response = client.post(path, form, HTTP_AUTHORIZATION=junk, REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 400, junk
        assert response.json()["error"] == "invalid_request"
    assert client.post(path, form, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_failures_count_for_the_client_that_would_be_authenticated(client, m2m_client):
    # Basic with the same client_id in the body authenticates that client: its failures count for it.
    for _ in range(LIMIT):
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_id": m2m_client.client_id},
            HTTP_AUTHORIZATION=Credentials(m2m_client.client_id, "wrong-secret").basic_auth,
        )
        assert response.status_code == 401
    assert client_credentials(client, m2m_client, address="198.51.100.7").status_code == 429


def test_an_address_is_paused_after_failed_authentications_across_clients(client, m2m_client):
    for number in range(2 * LIMIT):
        assert client_credentials(client, Credentials(f"unknown-{number}", "x")).status_code == 401
    assert client_credentials(client, m2m_client).status_code == 429
    assert client_credentials(client, m2m_client, address="198.51.100.7").status_code == 200


def test_a_successful_authentication_clears_the_clients_failures(client, m2m_client):
    wrong = Credentials(m2m_client.client_id, "wrong-secret")
    for _ in range(LIMIT - 1):
        client_credentials(client, wrong)
    assert client_credentials(client, m2m_client).status_code == 200
    for _ in range(LIMIT - 1):
        client_credentials(client, wrong, address="198.51.100.7")
    assert client_credentials(client, m2m_client, address="198.51.100.8").status_code == 200


def test_successful_client_traffic_is_never_slowed(client, m2m_client):
    for _ in range(5 * LIMIT):
        assert client_credentials(client, m2m_client).status_code == 200


def test_the_client_address_comes_from_the_configured_proxy_header(client, user, settings):
    settings.THROTTLE_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for number in range(2 * LIMIT):
        client.post(
            "/accounts/login/",
            {"username": f"guess{number}", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1",
        )
    blocked = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.50, 192.0.2.1",
    )
    assert blocked.status_code == 429
    other = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7",
    )
    assert other.status_code == 302


def test_a_spoofed_forwarded_address_from_a_client_that_is_no_proxy_does_not_count(client, user, settings):
    # Behind nginx the header names the client; a client reaching the server directly could
    # write any address there, a new one for each guess, and never be counted.
    settings.THROTTLE_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.THROTTLE_TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    for number in range(2 * LIMIT):
        client.post(
            "/accounts/login/",
            {"username": f"guess{number}", "password": "wrong"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}",
        )
    blocked = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert blocked.status_code == 429
    # Through the proxy the header counts: another client, not paused.
    through_proxy = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.77",
    )
    assert through_proxy.status_code == 302
