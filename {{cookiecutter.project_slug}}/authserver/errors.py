# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Error answers: RFC 6749 §5.2's JSON error, and the answer to a request Django cannot read.
"""

from django.http import JsonResponse
from django.views import defaults

from .view_policy import Answers, policy_of


def oauth_error(error, description=None, status=400, **headers):
    """An error answer shaped as RFC 6749 §5.2 says: JSON, never cached (§5.1)."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def speaks_json(request):
    """Whether the view this request resolved to answers its errors in JSON (view_policy.py)."""
    match = getattr(request, "resolver_match", None)
    policy = policy_of(match.func) if match else None
    return policy is not None and policy.answers is Answers.JSON


def bad_request(request, exception):
    """handler400: a request Django cannot parse (a body in another charset, broken multipart...)."""
    if speaks_json(request):
        # RFC 6749 §5.2: these endpoints answer errors in JSON.
        return oauth_error("invalid_request", "Unreadable request.")
    return defaults.bad_request(request, exception)
