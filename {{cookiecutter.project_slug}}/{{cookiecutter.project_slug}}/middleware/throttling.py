"""
Brute-force throttling of failed sign-ins and failed client authentications.

Failures are counted in Django's cache over fixed windows of THROTTLE_WINDOW_SECONDS: per
account and per client IP address at the login pages, per client_id and per IP address at
the endpoints where OAuth clients authenticate. Once a count reaches its limit, further
attempts are refused with 429 and a Retry-After header until the window ends, without
checking the password or secret. A successful sign-in (or a successful request of a client)
clears the count of that account (or client); successes never count.

Give every worker the same cache (CACHE_URL=redis://...) or each one counts on its own.
RFC 6749 §10.10 asks for this (credential guessing), NIST SP 800-63B §5.2.2 for sign-ins.
"""

import base64
import hashlib
import math
import time
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.shortcuts import render

from ..oauth.common import oauth_error

# The clock the windows are counted by; tests replace it, not time.time for the whole process.
clock = time.time

LOGIN_VIEWS = {"login", "admin:login"}
CLIENT_AUTHENTICATION_VIEWS = {
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:introspect",
    "oauth2_provider:device-authorization",
}


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


def over_limit(counters):
    """Whether any (kind, value, limit) counter has reached its limit."""
    keys = {counter_key(kind, value): limit for kind, value, limit in counters if value}
    counts = cache.get_many(list(keys))
    return any(counts.get(key, 0) >= limit for key, limit in keys.items())


def client_ip(request):
    # Behind a proxy, THROTTLE_IP_HEADER names the header it sets; its last entry is the
    # address the proxy itself saw, which the client cannot forge. A client that reaches the
    # server directly could write anything there: the header counts only from a trusted proxy.
    peer = request.META.get("REMOTE_ADDR", "")
    trusted = settings.THROTTLE_TRUSTED_PROXIES
    if settings.THROTTLE_IP_HEADER == "REMOTE_ADDR" or not ("*" in trusted or peer in trusted):
        return peer
    return request.META.get(settings.THROTTLE_IP_HEADER, "").rsplit(",", 1)[-1].strip() or peer


def account_name(username):
    return (username or "").casefold()


def login_counters(request, username):
    return [
        ("login-account", account_name(username), settings.THROTTLE_LOGIN_FAILURES_PER_ACCOUNT),
        ("login-ip", client_ip(request), settings.THROTTLE_LOGIN_FAILURES_PER_IP),
    ]


def client_id_of(request):
    """The client_id a request authenticates as: HTTP Basic first, as DOT reads it, else the body."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        try:
            decoded = base64.b64decode(credentials).decode()
        except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
            return ""
        # RFC 6749 §2.3.1: form-urlencoded before base64.
        return unquote_plus(decoded.partition(":")[0])
    return request.POST.get("client_id", "")


def client_counters(request):
    return [
        ("client", client_id_of(request), settings.THROTTLE_CLIENT_FAILURES_PER_CLIENT),
        ("client-ip", client_ip(request), settings.THROTTLE_CLIENT_FAILURES_PER_IP),
    ]


def too_many_sign_ins(request):
    retry_after = seconds_left_in_window()
    context = {"minutes": math.ceil(retry_after / 60)}
    response = render(request, "registration/too_many_attempts.html", context, status=429)
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


class BruteForceThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if self.view_name(request) in CLIENT_AUTHENTICATION_VIEWS and request.method == "POST":
            self.count_client_authentication(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        view_name = self.view_name(request)
        if view_name in LOGIN_VIEWS and over_limit(login_counters(request, request.POST.get("username"))):
            return too_many_sign_ins(request)
        if view_name in CLIENT_AUTHENTICATION_VIEWS and over_limit(client_counters(request)):
            return too_many_client_authentications()
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


# Connected to Django's sign-in signals in users/apps.py.


def count_failed_sign_in(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    username = credentials.get(get_user_model().USERNAME_FIELD, "")
    for kind, value, _limit in login_counters(request, username):
        if value:
            record_failure(kind, value)


def forget_failed_sign_ins(sender, request, user, **kwargs):
    forget_failures("login-account", account_name(user.get_username()))
