# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
What a view needs from the middleware, declared where the view is: its policy.

Each view of this project says, with `@declare(...)` on its class or function, how its answers
are kept (`Cache-Control: no-store` where they carry a credential), how its errors are shaped
(RFC 6749 §5.2 JSON, or pages), whether it runs in the request's transaction, which brute-force
counters guard it, and any exception to the Content-Security-Policy. The middleware
(authserver/middleware/) reads the policy of the view a request resolved to; no list of URL
names decides anything. Views of other packages (allauth's, the admin's, DOT's) are declared
where they are routed, with `declared_include`.

A route without a policy still gets the safest answer (no-store, pages, atomic), and
tests/test_routes.py fails for it: declare every view you add, starting from one of the
policies below.
"""

import dataclasses
import enum
import functools

from django.db import transaction
from django.urls import URLPattern, URLResolver, include


class Answers(enum.Enum):
    """How a view's errors look, the 503 of a database outage included (middleware/outages.py)."""

    # RFC 6749 §5.2: {"error": ..., "error_description": ...}, for clients and resource servers.
    JSON = "json"
    # An HTML page, for a person in a browser.
    PAGE = "page"


class Throttle(enum.Enum):
    """The brute-force counters in front of a view (middleware/throttling.py)."""

    # Failed client authentications, per client_id and per address (RFC 6749 §10.10).
    CLIENT_AUTHENTICATION = "client authentication"
    # Wrong device user codes, per user and per address (RFC 8628 §5.1).
    USER_CODE = "user code"
    # Client registrations made, per address (RFC 7591 §5).
    REGISTRATION = "registration"
    # allauth's own rate limits (ACCOUNT_RATE_LIMITS): its pages fail closed without the cache.
    SIGN_IN = "sign-in"


@dataclasses.dataclass(frozen=True)
class ViewPolicy:
    answers: Answers
    # Cache-Control: no-store on every answer (RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 9700 §4.3).
    no_store: bool
    # Outside the request's transaction (ATOMIC_REQUESTS): for views that never write, so that
    # on SQLite they do not queue behind its one write lock (docs/performance.md).
    read_only: bool = False
    # Outside the request's transaction too, for a view that opens its own around what must hold
    # together (transactions.write_transaction): the token endpoint, whose writes are short.
    own_transactions: bool = False
    throttle: Throttle | None = None
    # CSP img-src data: (an image made on the server, such as a QR code; images run no script).
    data_images: bool = False
    # The page's form may lead on to the client named by its `next` authorization request (CSP
    # form-action; middleware/security_headers.py): sign-in pages, before the code is issued.
    form_action_to_next: bool = False
    # The browser session and what comes with it: request.user, messages, allauth's list of
    # sessions (middleware/sessions.py). A view that takes no cookie (a client's, a resource
    # server's, a probe's) goes without, and their middleware does not run for it: it must not
    # read request.user, request.session or messages.
    session: bool = True

    def but(self, **changes):
        """This policy with some fields changed."""
        return dataclasses.replace(self, **changes)


# The policies to start from. Pick the closest, and change what differs with .but(...).

# An OAuth or OpenID Connect endpoint clients call: its answers carry codes, tokens or claims.
OAUTH_ENDPOINT = ViewPolicy(answers=Answers.JSON, no_store=True, session=False)
# A public document clients configure themselves from: discovery, JWKS, RFC 9728 metadata.
METADATA = ViewPolicy(answers=Answers.JSON, no_store=False, read_only=True, session=False)
# A page that shows or asks for a credential, a consent or personal data.
PRIVATE_PAGE = ViewPolicy(answers=Answers.PAGE, no_store=True)
# allauth's account pages: sign-in, passwords, e-mail, second factors, sessions.
ACCOUNT_PAGE = PRIVATE_PAGE.but(throttle=Throttle.SIGN_IN, form_action_to_next=True)
# A page anyone may see.
PUBLIC_PAGE = ViewPolicy(answers=Answers.PAGE, no_store=False)
# A protected resource (an API that takes bearer tokens): JSON errors.
API = ViewPolicy(answers=Answers.JSON, no_store=False, session=False)
# Liveness and readiness probes: JSON, never cached, no transaction to fail in.
PROBE = ViewPolicy(answers=Answers.JSON, no_store=True, read_only=True, session=False)

# What the middleware applies to a route nobody declared: the safest answer.
UNDECLARED = ViewPolicy(answers=Answers.PAGE, no_store=True)


def mark(function, policy):
    """Attach `policy` to a view function, where Django's handler and the middleware read it."""
    function.view_policy = policy
    # Django's handler reads this mark from the view it calls (ATOMIC_REQUESTS).
    outside = policy.read_only or policy.own_transactions
    return transaction.non_atomic_requests(function) if outside else function


def declare(policy, **changes):
    """Decorator: `policy` (with `changes`) is the view's, for a function or a class-based view.

    On a class, it wraps `dispatch`, whose attributes `as_view()` copies onto the view function
    (as Django does for csrf_exempt); a subclass that defines its own dispatch declares again.
    """
    policy = policy.but(**changes) if changes else policy

    def declared(view):
        if not isinstance(view, type):
            return mark(view, policy)
        inherited = view.dispatch

        @functools.wraps(inherited)
        def dispatch(self, request, *args, **kwargs):
            return inherited(self, request, *args, **kwargs)

        view.dispatch = mark(dispatch, policy)
        view.view_policy = policy
        return view

    return declared


def policy_of(view):
    """The policy declared for a resolved view function, or None."""
    return getattr(view, "view_policy", None) or getattr(
        getattr(view, "view_class", None), "view_policy", None
    )


def policy_of_request(request):
    """The policy of the view a request resolved to; UNDECLARED for none (a 404, say)."""
    match = getattr(request, "resolver_match", None)
    return (policy_of(match.func) if match else None) or UNDECLARED


def routed_with(view, policy):
    """A new view function that calls `view`, with its attributes, and `policy`."""

    @functools.wraps(view)
    def routed(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    return mark(routed, policy)


def declared_routes(patterns, policy, per_view=None):
    """Copies of `patterns` (nested includes too) whose views have `policy`, or the policy
    `per_view` gives a view; the views themselves are left as they are."""
    per_view = per_view or {}
    routes = []
    for route in patterns:
        if isinstance(route, URLResolver):
            nested = declared_routes(route.url_patterns, policy, per_view)
            routes.append(
                URLResolver(route.pattern, nested, route.default_kwargs, route.app_name, route.namespace)
            )
        else:
            view = routed_with(route.callback, per_view.get(route.callback, policy))
            routes.append(URLPattern(route.pattern, view, route.default_args, route.name))
    return routes


def declared_include(urlconf, policy, per_view=None):
    """include() for another package's routes (a module, its dotted path, or a (patterns,
    app_name, namespace) tuple such as admin.site.urls), every view of which gets `policy`, or
    the policy `per_view` gives it: a view that cannot be declared where it is defined is
    declared where it is routed."""
    if isinstance(urlconf, tuple):
        patterns, app_name, namespace = urlconf
    else:
        module, app_name, namespace = include(urlconf)
        patterns = getattr(module, "urlpatterns", module)
    return (declared_routes(patterns, policy, per_view), app_name, namespace)
