# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The browser session's middleware, run only for the routes whose policy has a session
(view_policy.ViewPolicy.session): pages. Clients, resource servers and probes send no cookie,
so for the token endpoint, UserInfo, introspection, metadata, the probes and every protected
resource, the session, authentication, messages and allauth's session-list middleware do no
work at all: no session read or saved, no signed-in user (request.user is anonymous), no message
storage, no session activity recorded, no session cookie, no `Vary: Cookie` (docs/performance.md,
tests/test_routes.py).

Django's CSRF middleware stays, for every route: it reads a cookie, not the session
(CSRF_USE_SESSIONS is off), costs next to nothing where no view asks for a token, and Django's
deploy checks (`check --deploy`: CSRF_COOKIE_SECURE...) look for it by name. Their session checks
look for the sessions app, which stays.

Django runs the middleware before it resolves the URL; RouteMiddleware, placed before these,
resolves it first so that they can read the policy on the way in. Without it, or for a path
that resolves to nothing (a 404), every route has the session: the safe side.

Each middleware here is Django's or allauth's own, subclassed, so that Django's checks (the admin
asks for the session, authentication and message middleware, or subclasses of them) still pass.
"""

import contextlib

from allauth.usersessions import middleware as usersessions
from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.urls import Resolver404, get_resolver

from ..view_policy import policy_of_request


class RouteMiddleware:
    """Resolves the request's route before the rest of the middleware runs, as Django itself
    does just before the view (and again then: the same answer, nothing here changes urlconf)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with contextlib.suppress(Resolver404):
            request.resolver_match = get_resolver(getattr(request, "urlconf", None)).resolve(
                request.path_info
            )
        return self.get_response(request)


class SessionOnly:
    """A middleware that runs only for the routes whose policy has a session."""

    def __call__(self, request):
        if not policy_of_request(request).session:
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(SessionOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(SessionOnly, auth.AuthenticationMiddleware):
    def __call__(self, request):
        # Anonymous until the session says who signed in, on the routes that have one; on the
        # others a view that asks anyway (one of yours declared before `session` existed) sees
        # an anonymous user and refuses, rather than a 500.
        request.user = AnonymousUser()
        return super().__call__(request)


class MessageMiddleware(SessionOnly, messages.MessageMiddleware):
    pass


class UserSessionsMiddleware(SessionOnly, usersessions.UserSessionsMiddleware):
    pass
