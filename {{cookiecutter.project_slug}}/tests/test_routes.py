"""
Every route of the site declares its policy (authserver/view_policy.py), ours, DOT's, allauth's
and the admin's alike, and the policy is right for what the route is: OAuth endpoints answer
JSON and are never stored, metadata documents are JSON, pages that show or ask for a credential
are never stored, and every answer carries the Content-Security-Policy. A view you add without
`@declare(...)` fails here.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string
from oauth2_provider import views as oauth2_views
from oauth2_provider.views.dynamic_client_registration import (
    DynamicClientRegistrationManagementView,
    DynamicClientRegistrationView,
)

from authserver.middleware import sessions
from authserver.view_policy import Answers, Throttle, policy_of

pytestmark = pytest.mark.django_db

# What the specifications ask of each kind of DOT endpoint, whoever routes it.
# RFC 6749 §5.1-5.2, RFC 7009 §2.2, RFC 7662 §2.2, RFC 8628 §3.2, OIDC Core §5.3.2, RFC 7591 §3.2:
# JSON answers that carry tokens, codes, claims or client credentials, never stored.
CREDENTIAL_ENDPOINTS = (
    oauth2_views.TokenView,
    oauth2_views.RevokeTokenView,
    oauth2_views.IntrospectTokenView,
    oauth2_views.DeviceAuthorizationView,
    oauth2_views.UserInfoView,
    DynamicClientRegistrationView,
    DynamicClientRegistrationManagementView,
)
# RFC 6749 §2.3, §10.10: where clients authenticate, failures are counted.
CLIENT_AUTHENTICATION_ENDPOINTS = (
    oauth2_views.TokenView,
    oauth2_views.RevokeTokenView,
    oauth2_views.IntrospectTokenView,
    oauth2_views.DeviceAuthorizationView,
)
# OIDC Discovery 1.0 §4, RFC 8414 §3, RFC 7517, RFC 9728 §3: public JSON documents.
METADATA_DOCUMENTS = (
    oauth2_views.ConnectDiscoveryInfoView,
    oauth2_views.OAuthServerMetadataView,
    oauth2_views.JwksInfoView,
    oauth2_views.OAuthProtectedResourceMetadataView,
)
# RFC 6749 §4.1.2, OIDC Core §3.1.2.5, RP-Initiated Logout, RFC 8628 §3.3: pages in the middle of
# a flow, never stored (RFC 9700 §4.3).
FLOW_PAGES = (
    oauth2_views.AuthorizationView,
    oauth2_views.RPInitiatedLogoutView,
    oauth2_views.DeviceUserCodeView,
    oauth2_views.DeviceConfirmView,
    oauth2_views.DeviceGrantStatusView,
)
# The values a route's parameters take when it is requested: of the right form, naming nothing.
CONVERTER_VALUES = {
    "int": "1",
    "slug": "x",
    "str": "x",
    "path": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def routes(patterns=None, prefix=""):
    """(path, name, view) of every route of the site, includes followed."""
    for route in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(route, URLResolver):
            namespace = f"{route.namespace}:" if route.namespace else ""
            for path, name, view in routes(route.url_patterns, prefix + str(route.pattern)):
                yield path, f"{namespace}{name}" if name else name, view
        elif isinstance(route, URLPattern):
            yield prefix + str(route.pattern), route.name, route.callback


ROUTES = list(routes())


def example_path(route):
    """A path the route matches: its parameters filled in, its regular expressions unanchored."""
    filled = re.sub(
        r"<(?:(\w+):)?\w+>", lambda parameter: CONVERTER_VALUES[parameter.group(1) or "str"], route
    )
    if filled.startswith("^"):
        filled = re.sub(r"\(\?P<\w+>[^)]*\)", "1", filled).strip("^$").replace("\\", "")
    return "/" + filled


def view_class(view):
    return getattr(view, "view_class", None) or getattr(view, "cls", None)


def is_a(view, classes):
    cls = view_class(view)
    return cls is not None and issubclass(cls, classes)


def test_the_site_has_the_routes_this_test_expects_to_find():
    modules = {view.__module__.split(".")[0] for _, _, view in ROUTES}
    assert {"authserver", "allauth", "django"} <= modules
    assert sum(is_a(view, CREDENTIAL_ENDPOINTS) for _, _, view in ROUTES) >= 5


def test_every_route_declares_its_policy():
    undeclared = [f"{route} ({name})" for route, name, view in ROUTES if policy_of(view) is None]
    assert not undeclared, (
        "These routes declare no policy: decorate their views with authserver.view_policy.declare(...), "
        f"or route another package's views with declared_include(...): {undeclared}"
    )


def policy_problems(route, view):
    """What is wrong with the policy of `view` at `route`, for the kind of route it is."""
    policy = policy_of(view)
    module = view.__module__
    expectations = [
        (
            is_a(view, CREDENTIAL_ENDPOINTS),
            policy.answers is Answers.JSON and policy.no_store,
            "JSON, no-store",
        ),
        (
            is_a(view, CLIENT_AUTHENTICATION_ENDPOINTS),
            policy.throttle is Throttle.CLIENT_AUTHENTICATION,
            "client authentications throttled",
        ),
        (
            is_a(view, METADATA_DOCUMENTS),
            policy.answers is Answers.JSON and policy.read_only,
            "JSON, read-only",
        ),
        (is_a(view, FLOW_PAGES), policy.answers is Answers.PAGE and policy.no_store, "a page, no-store"),
        # RFC 8628 §5.1: user codes are short enough to guess.
        (
            is_a(view, oauth2_views.DeviceUserCodeView),
            policy.throttle is Throttle.USER_CODE,
            "user codes throttled",
        ),
        # Passwords, codes, e-mail addresses, sessions: personal, and rate-limited by allauth.
        (
            module.startswith("allauth."),
            policy.answers is Answers.PAGE and policy.no_store and policy.throttle is Throttle.SIGN_IN,
            "a page, no-store, allauth's limits failing closed",
        ),
        (
            module.startswith("django.contrib.admin"),
            policy.answers is Answers.PAGE and policy.no_store,
            "a page, no-store",
        ),
        # The session, CSRF and request.user are the pages' (middleware/sessions.py); DOT reads
        # request.user at the registration endpoint, for a client registered from a browser.
        (
            policy.answers is Answers.PAGE or is_a(view, DynamicClientRegistrationView),
            policy.session,
            "the browser session",
        ),
        (
            True,
            (policy.read_only or policy.own_transactions)
            == ("default" in getattr(view, "_non_atomic_requests", set())),
            "the request's transaction exactly when it is neither read-only nor in its own",
        ),
        # Of two redemptions of one code or refresh token at once, one succeeds: the token
        # endpoint's own transactions keep that (endpoints/token.py).
        (
            policy.own_transactions,
            is_a(view, oauth2_views.TokenView),
            "its own transactions only where the view opens them (the token endpoint)",
        ),
    ]
    return [f"{route}: {wanted}" for applies, holds, wanted in expectations if applies and not holds]


def test_every_policy_fits_the_kind_of_route():
    problems = [
        problem
        for route, _name, view in ROUTES
        if policy_of(view)
        for problem in policy_problems(route, view)
    ]
    assert not problems, problems


def test_every_answer_follows_its_route_policy():
    """Each route's answer to an anonymous GET, and the JSON endpoints' to an empty POST."""
    browser = Client(raise_request_exception=False)
    for route, _name, view in ROUTES:
        policy = policy_of(view)
        if policy is None:
            continue  # test_every_route_declares_its_policy names it
        path = example_path(route)
        methods = ("get", "post") if policy.answers is Answers.JSON else ("get",)
        for method in methods:
            response = getattr(browser, method)(path)
            assert response.status_code < 500, (method, route, response.status_code)
            assert "Content-Security-Policy" in response, (method, route)
            if policy.no_store:
                assert "no-store" in response.get("Cache-Control", ""), (method, route, response.status_code)
            if policy.answers is Answers.JSON and response.status_code >= 400 and response.content:
                assert response["Content-Type"].startswith("application/json"), (
                    method,
                    route,
                    response.status_code,
                )


def test_routes_without_a_session_answer_without_one(user):
    """A route whose policy has no session (middleware/sessions.py) answers a signed-in browser
    without reading its session: no 500 from a request.user or request.session it would lack, no
    session or CSRF cookie, no `Vary: Cookie`; and the rest of the middleware still runs."""
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    checked = 0
    for route, _name, view in ROUTES:
        policy = policy_of(view)
        if policy is None or policy.session:
            continue
        checked += 1
        for method in ("get", "post"):
            response = getattr(browser, method)(example_path(route))
            assert response.status_code < 500, (method, route, response.status_code)
            assert not response.cookies, (method, route, list(response.cookies))
            assert "Cookie" not in response.get("Vary", ""), (method, route)
            # MessageMiddleware did not run: the middleware of the session was skipped.
            assert not hasattr(response.wsgi_request, "_messages"), (method, route)
            # Signed in by its cookie, yet anonymous here: no session was read.
            assert response.wsgi_request.user.is_anonymous, (method, route)
            assert "Content-Security-Policy" in response, (method, route)
            assert "X-Request-ID" in response, (method, route)
            if policy.no_store:
                assert "no-store" in response.get("Cache-Control", ""), (method, route)
    # The token, introspection, revocation, UserInfo, device, metadata, probe and API routes.
    assert checked >= 10


def test_pages_still_have_the_session():
    """The middleware of the session still runs for pages: the sign-in form sets its CSRF
    cookie, and has request.user and messages."""
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert hasattr(response.wsgi_request, "_messages")
    assert response.wsgi_request.user.is_anonymous
    assert "Cookie" in response["Vary"]


def test_the_session_middleware_is_skipped_whole():
    """SessionOnly skips a middleware's __call__ (middleware/sessions.py): Django's handler calls
    process_view, process_exception and process_template_response itself, so a middleware with
    one of them would still run in part. And the route is resolved before any of them runs."""
    factories = {path: import_string(path) for path in settings.MIDDLEWARE}
    session_only = [
        path
        for path, factory in factories.items()
        if isinstance(factory, type) and issubclass(factory, sessions.SessionOnly)
    ]
    assert len(session_only) == 4
    assert settings.MIDDLEWARE.index("authserver.middleware.sessions.RouteMiddleware") < min(
        settings.MIDDLEWARE.index(path) for path in session_only
    )
    hooks = ("process_view", "process_exception", "process_template_response")
    assert not [(path, hook) for path in session_only for hook in hooks if hasattr(factories[path], hook)]
