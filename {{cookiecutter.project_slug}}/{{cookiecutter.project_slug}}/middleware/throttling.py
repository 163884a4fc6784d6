"""
Brute-force throttling of failed sign-ins, failed client authentications and wrong device codes.

Failures are counted in Django's cache over fixed windows of THROTTLE_WINDOW_SECONDS. Once a
count reaches its limit, further attempts are refused with 429 and a Retry-After header until
the window ends, without checking the password, secret or code.

At the login pages, so that guessing is bounded without letting anyone lock a user out
(OWASP Authentication Cheat Sheet, "Account Lockout"):
- per address: its failures for any account;
- per account and address: its failures for one account pause that account for that address only;
- per account, from every address, at a much higher limit: once reached, an address that has
  already failed for the account is refused, while one that has not still has its password checked.
The account is the username as Django's authentication reads it (stripped, NFKC, as the user
model normalises it), casefolded, so no spelling of a name escapes its counts. A successful
sign-in clears that account's failures from that address only: a user signing in never hands
an attacker a fresh allowance.

At the endpoints where OAuth clients authenticate: per client_id and per address. A successful
request of a client clears that client's count. Successes never count.

At the page where a device's user code is entered: per signed-in user and per address. A
right user code clears nothing: anyone can have one, by starting a device flow of their own.

When the cache is unavailable (Redis down, restarting or cut off; it answers within
CACHE_TIMEOUT_SECONDS or is taken as down), each use has its policy, and none is a 500:
- sign-ins and user codes fail closed: 503 with Retry-After, a page. Passwords and user codes are
  short enough to guess, and with no counter nothing would bound the guessing. Users already
  signed in go on: the authorization endpoint itself needs no cache.
- client authentications fail open: the request goes on, unthrottled. Client secrets are 256
  random bits or more (create_oauth_client, seed_oauth_clients), which no rate of guessing finds,
  so their limits are a second line; failing closed would stop every token, refresh, revocation
  and introspection, the whole service, for as long as the cache is down.
- client registrations (MCP_READY) fail closed: 503 JSON with Retry-After. Anyone may register
  without credentials, and with no counter nothing would bound it.
- counting after the answer (a failure, or a success clearing a count) is skipped.
Each process logs a warning saying so once per OUTAGE_LOG_INTERVAL_SECONDS while it lasts; the
next request after the cache is back uses it again, with no restart.

Give every worker the same cache (CACHE_URL=redis://...) or each one counts on its own.
RFC 6749 §10.10 asks for this (credential guessing), NIST SP 800-63B §5.2.2 for sign-ins,
RFC 8628 §5.1 for user codes, which are short enough to guess.

At the client registration endpoint (RFC 7591 §3, open to anyone): every registration made,
per address, so that no one fills the client table (RFC 7591 §5, §10.2 of RFC 6819).
"""

import hashlib
import ipaddress
import logging
import math
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.shortcuts import render
from redis.exceptions import RedisError

from ..oauth.common import basic_client_id, oauth_error
from .outages import unavailable_json, unavailable_page

logger = logging.getLogger(__name__)

# The clock the windows are counted by; tests replace it, not time.time for the whole process.
clock = time.time

LOGIN_VIEWS = {"login", "admin:login"}
CLIENT_AUTHENTICATION_VIEWS = {
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:introspect",
    "oauth2_provider:device-authorization",
}
USER_CODE_VIEWS = {"oauth2_provider:device"}
REGISTRATION_VIEWS = {"oauth2_provider:dcr-register"}

# What a cache that is down raises: Django's RedisCache lets redis-py's ConnectionError and
# TimeoutError through (both RedisError); the other backends an OSError.
CACHE_ERRORS = (RedisError, OSError)
OUTAGE_LOG_INTERVAL_SECONDS = 60
# When each process last logged the outage of each use: {use: time.monotonic()}.
outage_logged_at = {}
POLICIES = {
    "sign-in": "sign-ins are refused with 503 (throttling fails closed)",
    "user-code": "user codes are refused with 503 (throttling fails closed)",
    "registration": "client registrations are refused with 503 (throttling fails closed)",
    "client": "throttling of client authentication is off (fails open): requests go on unthrottled",
    "counting": "failures are not counted",
}


def cache_unavailable(use, error):
    """Log, once per OUTAGE_LOG_INTERVAL_SECONDS and use, that the cache is down and what follows."""
    now = time.monotonic()
    if now - outage_logged_at.get(use, -math.inf) >= OUTAGE_LOG_INTERVAL_SECONDS:
        outage_logged_at[use] = now
        logger.warning(
            "The cache is unavailable (%s: %s): %s until it answers again.",
            type(error).__name__,
            error,
            POLICIES[use],
        )


def seconds_left_in_window():
    window = settings.THROTTLE_WINDOW_SECONDS
    return window - int(clock()) % window


def counter_key(kind, value):
    window_number = int(clock()) // settings.THROTTLE_WINDOW_SECONDS
    digest = hashlib.sha256(value.encode()).hexdigest()
    return f"throttle:{kind}:{digest}:{window_number}"


def record_failure(kind, value):
    key = counter_key(kind, value)
    # add() then incr() is atomic on Redis, so concurrent workers never lose a failure.
    cache.add(key, 0, timeout=settings.THROTTLE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add() and incr()
        cache.add(key, 1, timeout=settings.THROTTLE_WINDOW_SECONDS)


def forget_failures(kind, value):
    cache.delete(counter_key(kind, value))


def failure_counts(counters):
    """The failures counted so far under each (kind, value); 0 for an empty value."""
    keys = [counter_key(kind, value) if value else None for kind, value in counters]
    found = cache.get_many([key for key in keys if key])
    return [found.get(key, 0) if key else 0 for key in keys]


def over_limit(counters):
    """Whether any (kind, value, limit) counter has reached its limit."""
    counts = failure_counts([(kind, value) for kind, value, _limit in counters])
    return any(count >= limit for count, (_kind, _value, limit) in zip(counts, counters, strict=True))


def client_ip(request):
    # Behind a proxy, THROTTLE_IP_HEADER names the header it sets; its last entry is the
    # address the proxy itself saw, which the client cannot forge. A client that reaches the
    # server directly could write anything there: the header counts only from a trusted proxy.
    peer = request.META.get("REMOTE_ADDR", "")
    trusted = settings.THROTTLE_TRUSTED_PROXIES
    if settings.THROTTLE_IP_HEADER == "REMOTE_ADDR" or not ("*" in trusted or peer in trusted):
        address = peer
    else:
        address = request.META.get(settings.THROTTLE_IP_HEADER, "").rsplit(",", 1)[-1].strip() or peer
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        # One IPv6 host or site holds a whole /64 at least (RFC 6177 §3): it counts as one address.
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


def account_name(username):
    """The account a typed username signs in to: what AuthenticationForm's UsernameField (strip,
    then NFKC via the user model's normalize_username) makes of it, casefolded."""
    return get_user_model().normalize_username((username or "").strip()).casefold()


def account_at_address(account, address):
    return f"{account}\n{address}" if account else ""


def sign_in_failures(request, username):
    """The (kind, value) of every counter a failed sign-in for `username` from this request adds to."""
    account, address = account_name(username), client_ip(request)
    return [
        ("login-ip", address),
        ("login-account-ip", account_at_address(account, address)),
        ("login-account", account),
    ]


def sign_in_refused(request, username):
    """Whether a sign-in is refused before its password is checked."""
    by_ip, by_account_at_ip, by_account = failure_counts(sign_in_failures(request, username))
    return (
        by_ip >= settings.THROTTLE_LOGIN_FAILURES_PER_IP
        or by_account_at_ip >= settings.THROTTLE_LOGIN_FAILURES_PER_ACCOUNT_AND_IP
        # Under attack from many addresses, an account still lets in an address that has not failed for it.
        or (by_account >= settings.THROTTLE_LOGIN_FAILURES_PER_ACCOUNT and by_account_at_ip > 0)
    )


def client_id_of(request):
    """The client_id a request authenticates as: HTTP Basic first, as DOT reads it, else the body.
    A request with both is refused (oauth/common.py, OneClientAuthenticationMethod)."""
    basic = basic_client_id(request)
    return request.POST.get("client_id", "") if basic is None else basic


def client_counters(request):
    return [
        ("client", client_id_of(request), settings.THROTTLE_CLIENT_FAILURES_PER_CLIENT),
        ("client-ip", client_ip(request), settings.THROTTLE_CLIENT_FAILURES_PER_IP),
    ]


def user_code_counters(request):
    user = account_name(request.user.get_username()) if request.user.is_authenticated else ""
    return [
        ("user-code-user", user, settings.THROTTLE_USER_CODE_FAILURES_PER_USER),
        ("user-code-ip", client_ip(request), settings.THROTTLE_USER_CODE_FAILURES_PER_IP),
    ]


def registration_counters(request):
    return [("registration-ip", client_ip(request), settings.THROTTLE_REGISTRATIONS_PER_IP)]


def too_many_attempts(request, template):
    retry_after = seconds_left_in_window()
    context = {"minutes": math.ceil(retry_after / 60)}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def too_many_client_authentications():
    # RFC 6585 §4 for the status; the error stays RFC 6749 §5.2's invalid_client, since the
    # client is not authenticated (its credentials are not even checked until Retry-After).
    return oauth_error(
        "invalid_client",
        "Too many failed client authentications; retry after Retry-After seconds.",
        status=429,
        Retry_After=str(seconds_left_in_window()),
    )


def too_many_registrations():
    # RFC 6585 §4 for the status; RFC 7591 §3.2.2 has no error of its own for it.
    return oauth_error(
        "invalid_client_metadata",
        "Too many registrations from this address; retry after Retry-After seconds.",
        status=429,
        Retry_After=str(seconds_left_in_window()),
    )


class BruteForceThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        view_name = self.view_name(request)
        try:
            if view_name in CLIENT_AUTHENTICATION_VIEWS and request.method == "POST":
                self.count_client_authentication(request, response)
            if view_name in USER_CODE_VIEWS and request.method == "POST":
                self.count_user_code(request, response)
            if view_name in REGISTRATION_VIEWS and request.method == "POST" and response.status_code == 201:
                for kind, value, _limit in registration_counters(request):
                    record_failure(kind, value)
        except CACHE_ERRORS as error:
            cache_unavailable("counting", error)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        view_name = self.view_name(request)
        if view_name in LOGIN_VIEWS:
            try:
                refused = sign_in_refused(request, request.POST.get("username"))
            except CACHE_ERRORS as error:
                cache_unavailable("sign-in", error)
                return unavailable_page()
            if refused:
                return too_many_attempts(request, "registration/too_many_attempts.html")
        if view_name in CLIENT_AUTHENTICATION_VIEWS:
            try:
                refused = over_limit(client_counters(request))
            except CACHE_ERRORS as error:
                cache_unavailable("client", error)
                refused = False
            if refused:
                return too_many_client_authentications()
        if view_name in USER_CODE_VIEWS:
            try:
                refused = over_limit(user_code_counters(request))
            except CACHE_ERRORS as error:
                cache_unavailable("user-code", error)
                return unavailable_page()
            if refused:
                return too_many_attempts(request, "oauth2_provider/device/too_many_attempts.html")
        if view_name in REGISTRATION_VIEWS:
            try:
                refused = over_limit(registration_counters(request))
            except CACHE_ERRORS as error:
                cache_unavailable("registration", error)
                return unavailable_json()
            if refused:
                return too_many_registrations()
        return None

    @staticmethod
    def view_name(request):
        match = getattr(request, "resolver_match", None)
        return match.view_name if match else None

    @staticmethod
    def count_client_authentication(request, response):
        if response.status_code == 401:
            for kind, value, _limit in client_counters(request):
                if value:
                    record_failure(kind, value)
        elif response.status_code < 300 and (client_id := client_id_of(request)):
            forget_failures("client", client_id)

    @staticmethod
    def count_user_code(request, response):
        # DOT's page redirects to the confirmation once the code is right (and an anonymous
        # user to the sign-in page); it shows the form again, with the error, when it is not.
        if response.status_code == 200:
            for kind, value, _limit in user_code_counters(request):
                if value:
                    record_failure(kind, value)


# Connected to Django's sign-in signals in users/apps.py.


def count_failed_sign_in(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    username = credentials.get(get_user_model().USERNAME_FIELD, "")
    try:
        for kind, value in sign_in_failures(request, username):
            if value:
                record_failure(kind, value)
    except CACHE_ERRORS as error:  # down since process_view checked it
        cache_unavailable("counting", error)


def forget_failed_sign_ins(sender, request, user, **kwargs):
    account = account_name(user.get_username())
    try:
        forget_failures("login-account-ip", account_at_address(account, client_ip(request)))
    except CACHE_ERRORS as error:
        cache_unavailable("counting", error)
