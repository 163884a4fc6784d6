# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Brute-force throttling of failed client authentications, wrong device codes and registrations,
at the views whose policy names the counters (view_policy.Throttle).

Sign-ins, second factors, password resets and verification e-mails are django-allauth's to
limit (ACCOUNT_RATE_LIMITS in settings; docs/accounts.md#settings): this module only gives allauth the
client's address (client_address) and keeps its pages failing closed while the cache is down.

Failures are counted in Django's cache over fixed windows of THROTTLE_WINDOW_SECONDS. Once a
count reaches its limit, further attempts are refused with 429 and a Retry-After header until
the window ends, without checking the secret or code.

At the endpoints where OAuth clients authenticate: per client_id and per address. A successful
request of a client clears that client's count. Successes never count.

At the page where a device's user code is entered: per signed-in user and per address. A
right user code clears nothing: anyone can have one, by starting a device flow of their own.

When the cache is unavailable (Redis down, restarting or cut off; it answers within
CACHE_TIMEOUT_SECONDS or is taken as down), each use has its policy, and none is a 500:
- sign-ins and the other account pages (allauth's, whose rate limits need the cache) and user
  codes fail closed: 503 with Retry-After, a page. Passwords, second-factor codes and user codes
  are short enough to guess, and with no counter nothing would bound the guessing. Users
  already signed in go on: the authorization endpoint itself needs no cache.
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
RFC 6749 §10.10 asks for this (credential guessing), RFC 8628 §5.1 for user codes, which are short
enough to guess.

At the client registration endpoint (RFC 7591 §3, open to anyone): every registration made,
per address, so that no one fills the client table (RFC 7591 §5, §10.2 of RFC 6819).
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.shortcuts import render
from redis.exceptions import RedisError

from ..addresses import client_ip
from ..client_authentication import client_id_of
from ..errors import oauth_error
from ..view_policy import Throttle, policy_of_request
from .outages import unavailable_json, unavailable_page

logger = logging.getLogger(__name__)

# The clock the windows are counted by; tests replace it, not time.time for the whole process.
clock = time.time

# What a cache that is down raises: Django's RedisCache lets redis-py's ConnectionError and
# TimeoutError through (both RedisError); the other backends an OSError.
CACHE_ERRORS = (RedisError, OSError)
OUTAGE_LOG_INTERVAL_SECONDS = 60
# When each process last logged the outage of each use: {use: time.monotonic()}.
outage_logged_at = {}
POLICIES = {
    "sign-in": "sign-ins and the other account pages are refused with 503 (throttling fails closed)",
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


def reached(counts, counters):
    """Whether any count has reached the limit of its (kind, value, limit) counter."""
    return any(count >= limit for count, (_kind, _value, limit) in zip(counts, counters, strict=True))


def over_limit(counters):
    """Whether any (kind, value, limit) counter has reached its limit."""
    return reached(failure_counts([(kind, value) for kind, value, _limit in counters]), counters)


def account_name(username):
    """A username as the user model normalises it (stripped, NFKC), casefolded: one counter for
    every spelling of a name."""
    return get_user_model().normalize_username((username or "").strip()).casefold()


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
        throttle = policy_of_request(request).throttle
        if request.method != "POST" or throttle is None:
            return response
        try:
            if throttle is Throttle.CLIENT_AUTHENTICATION:
                self.count_client_authentication(request, response)
            elif throttle is Throttle.USER_CODE:
                self.count_user_code(request, response)
            elif throttle is Throttle.REGISTRATION and response.status_code == 201:
                for kind, value, _limit in registration_counters(request):
                    record_failure(kind, value)
        except CACHE_ERRORS as error:
            cache_unavailable("counting", error)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        throttle = policy_of_request(request).throttle
        if request.method != "POST" or throttle is None:
            return None
        if throttle is Throttle.CLIENT_AUTHENTICATION:
            counters = client_counters(request)
            try:
                counts = failure_counts([(kind, value) for kind, value, _limit in counters])
            except CACHE_ERRORS as error:
                cache_unavailable("client", error)
                return None
            # A success clears the client's count only where there is one: no write per request.
            # (The client's own counter is client_counters' first.)
            request.client_failures_counted = counts[0] > 0
            return too_many_client_authentications() if reached(counts, counters) else None
        if throttle is Throttle.USER_CODE:
            try:
                refused = over_limit(user_code_counters(request))
            except CACHE_ERRORS as error:
                cache_unavailable("user-code", error)
                return unavailable_page()
            return (
                too_many_attempts(request, "oauth2_provider/device/too_many_attempts.html")
                if refused
                else None
            )
        if throttle is Throttle.REGISTRATION:
            try:
                refused = over_limit(registration_counters(request))
            except CACHE_ERRORS as error:
                cache_unavailable("registration", error)
                return unavailable_json()
            return too_many_registrations() if refused else None
        return None

    def process_exception(self, request, exception):
        # allauth's rate limits read and write the cache in its views: with the cache down, its
        # pages answer 503 rather than go on unlimited (or 500).
        if isinstance(exception, CACHE_ERRORS) and policy_of_request(request).throttle is Throttle.SIGN_IN:
            cache_unavailable("sign-in", exception)
            return unavailable_page()
        return None

    @staticmethod
    def count_client_authentication(request, response):
        if response.status_code == 401:
            for kind, value, _limit in client_counters(request):
                if value:
                    record_failure(kind, value)
        elif (
            response.status_code < 300
            and getattr(request, "client_failures_counted", True)
            and (client_id := client_id_of(request))
        ):
            forget_failures("client", client_id)

    @staticmethod
    def count_user_code(request, response):
        # DOT's page redirects to the confirmation once the code is right (and an anonymous
        # user to the sign-in page); it shows the form again, with the error, when it is not.
        if response.status_code == 200:
            for kind, value, _limit in user_code_counters(request):
                if value:
                    record_failure(kind, value)
