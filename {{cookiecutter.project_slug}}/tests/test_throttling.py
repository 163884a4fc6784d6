"""
Brute-force limits: allauth's on sign-ins (ACCOUNT_RATE_LIMITS, with the client address of
authserver/accounts.py), the project's own on client authentications
(authserver/middleware/throttling.py).
"""

import pytest
from allauth.core.internal.ratelimit import parse_rates
from django.core import mail
from django.core.cache import cache

from .support import PASSWORD, Credentials

pytestmark = pytest.mark.django_db

LIMIT = 3
PAUSED = b"Too many failed login attempts"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login": f"{10 * LIMIT}/m/ip",
        "login_failed": f"{2 * LIMIT}/15m/ip,{LIMIT}/15m/key",
    }
    settings.THROTTLE_CLIENT_FAILURES_PER_CLIENT = LIMIT
    settings.THROTTLE_CLIENT_FAILURES_PER_IP = 2 * LIMIT


def sign_in(client, login, password, address="192.0.2.1", **headers):
    return client.post(
        "/accounts/login/", {"login": login, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in(response):
    return response.status_code == 302


def paused(response):
    return response.status_code == 200 and PAUSED in response.content


def client_credentials(client, credentials, address="192.0.2.1", path="/o/token/"):
    return client.post(
        path,
        {"grant_type": "client_credentials", "token": "x"},
        HTTP_AUTHORIZATION=credentials.basic_auth,
        REMOTE_ADDR=address,
    )


def assert_retry_after(response):
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_an_account_is_paused_after_repeated_failures_even_for_the_right_password(client, user):
    for _ in range(LIMIT):
        response = sign_in(client, user.username, "wrong")
        assert response.status_code == 200 and not paused(response)
    assert paused(sign_in(client, user.username, PASSWORD))
    assert not client.get("/").context["user"].is_authenticated
    # For every address: the limit bounds the guesses at one account, however many addresses guess.
    assert paused(sign_in(client, user.username, PASSWORD, address="198.51.100.7"))


def test_a_password_reset_lifts_the_pause(client, user):
    """The user of a paused account gets back in through the e-mail a reset sends them."""
    user.email = "alice@example.com"
    user.save()
    for _ in range(LIMIT):
        sign_in(client, user.email, "wrong")
    assert paused(sign_in(client, user.email, PASSWORD))
    assert client.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    (message,) = mail.outbox
    link = next(word for word in message.body.split() if "/accounts/password/reset/key/" in word)
    form = client.get(link, follow=True)
    new_password = PASSWORD + "-new"
    answer = client.post(form.redirect_chain[-1][0], {"password1": new_password, "password2": new_password})
    assert answer.status_code == 302, answer.content
    assert signed_in(sign_in(client, user.email, new_password))


@pytest.mark.parametrize("spelling", [" alice", "alice\t", "ALICE", "Alice\u00a0"])
def test_every_spelling_of_a_username_counts_for_its_account(client, user, spelling):
    """allauth strips and lowercases the login: a paused account is not reached under another spelling."""
    for _ in range(LIMIT):
        sign_in(client, user.username, "wrong")
    assert not signed_in(sign_in(client, spelling, PASSWORD, address="198.51.100.9"))


def test_a_lookalike_spelling_signs_no_one_in(client, user):
    """A fullwidth letter is another username: guessing under it never reaches the account."""
    assert not signed_in(sign_in(client, "\uff41lice", PASSWORD))
    assert signed_in(sign_in(client, user.username, PASSWORD))


def test_the_addresses_of_one_ipv6_network_count_as_one(client, user):
    for number in range(2 * LIMIT):
        address = f"2001:db8:0:1::{number + 1}"
        assert sign_in(client, f"guess{number}", "wrong", address=address).status_code == 200
    assert paused(sign_in(client, user.username, PASSWORD, address="2001:db8:0:1:ffff::9"))
    assert signed_in(sign_in(client, user.username, PASSWORD, address="2001:db8:0:2::1"))


def test_an_address_is_paused_after_failures_across_accounts(client, user):
    for number in range(2 * LIMIT):
        assert sign_in(client, f"guess{number}", "wrong").status_code == 200
    assert paused(sign_in(client, user.username, PASSWORD))
    assert signed_in(sign_in(client, user.username, PASSWORD, address="198.51.100.7"))


def test_the_per_address_limit_is_well_below_the_per_account_one(client, user, settings):
    """The shipped limits: one address's failures stop that address (10), not the account's user (50)."""
    from config.settings import base

    shipped = base.ACCOUNT_RATE_LIMITS["login_failed"]
    per = {rate.per: rate for rate in parse_rates(shipped)}
    assert per["ip"].duration == per["key"].duration
    assert per["ip"].amount * 5 <= per["key"].amount
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": shipped,
        "login": "100/m/ip",
    }
    for _ in range(per["ip"].amount):
        assert not signed_in(sign_in(client, user.username, "wrong", address="192.0.2.66"))
    assert paused(sign_in(client, user.username, PASSWORD, address="192.0.2.66"))
    assert signed_in(sign_in(client, user.username, PASSWORD, address="192.0.2.67"))


def test_successful_sign_ins_never_count(client, user):
    for _ in range(3 * LIMIT):
        assert signed_in(sign_in(client, user.username, PASSWORD))
        client.logout()


def test_every_sign_in_answered_counts_per_address(client, user, settings):
    """Right or wrong, sign-in forms per address and minute: beyond, 429 (templates/429.html)."""
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": f"{LIMIT}/m/ip"}
    for _ in range(LIMIT):
        assert signed_in(sign_in(client, user.username, PASSWORD))
        client.logout()
    refused = sign_in(client, user.username, PASSWORD)
    assert refused.status_code == 429 and b"Too many attempts" in refused.content
    assert signed_in(sign_in(client, user.username, PASSWORD, address="198.51.100.7"))


def test_the_admin_signs_in_on_the_sign_in_page(client, admin_user):
    """The admin's own password form is gone: /admin/login/ leads to the limited sign-in page."""
    for method in (client.get, client.post):
        response = method("/admin/login/", {"username": admin_user.username, "password": "password"})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    assert not client.get("/").context["user"].is_authenticated


def test_the_pause_ends_with_the_window(client, user, monkeypatch):
    import allauth.core.internal.ratelimit as allauth_ratelimit

    now = 1_000_000 * 900.0
    monkeypatch.setattr(allauth_ratelimit.time, "time", lambda: now)
    for _ in range(LIMIT):
        sign_in(client, user.username, "wrong")
    assert paused(sign_in(client, user.username, PASSWORD))
    monkeypatch.setattr(allauth_ratelimit.time, "time", lambda: now + 15 * 60)
    assert signed_in(sign_in(client, user.username, PASSWORD))


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


def test_a_success_with_no_failure_counted_writes_nothing_to_the_cache(client, m2m_client, monkeypatch):
    # One read of the counts per request; a write only to clear a count there is.
    writes = []

    def recorded(method):
        real = getattr(cache, method)

        def write(*args, **kwargs):
            writes.append(method)
            return real(*args, **kwargs)

        return write

    for method in ("set", "add", "incr", "delete", "set_many", "delete_many"):
        monkeypatch.setattr(cache, method, recorded(method))
    assert client_credentials(client, m2m_client).status_code == 200
    assert writes == []
    client_credentials(client, Credentials(m2m_client.client_id, "wrong-secret"))
    assert client_credentials(client, m2m_client).status_code == 200
    assert "delete" in writes


def test_the_client_address_comes_from_the_configured_proxy_header(client, user, settings):
    settings.THROTTLE_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for number in range(2 * LIMIT):
        sign_in(
            client,
            f"guess{number}",
            "wrong",
            HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1",
            address="127.0.0.1",
        )
    blocked = sign_in(
        client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.50, 192.0.2.1", address="127.0.0.1"
    )
    assert paused(blocked)
    other = sign_in(
        client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7", address="127.0.0.1"
    )
    assert signed_in(other)


def test_a_spoofed_forwarded_address_from_a_client_that_is_no_proxy_does_not_count(client, user, settings):
    # Behind nginx the header names the client; a client reaching the server directly could
    # write any address there, a new one for each guess, and never be counted.
    settings.THROTTLE_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.THROTTLE_TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    for number in range(2 * LIMIT):
        sign_in(
            client,
            f"guess{number}",
            "wrong",
            address="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}",
        )
    blocked = sign_in(
        client, user.username, PASSWORD, address="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.200"
    )
    assert paused(blocked)
    # Through the proxy the header counts: another client, not paused.
    through_proxy = sign_in(
        client, user.username, PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.77"
    )
    assert signed_in(through_proxy)
