"""The site's own pages: home, the demo client's callback, and the answer to an unreadable request."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..middleware.throttling import CLIENT_AUTHENTICATION_VIEWS
from ..oauth.common import oauth_error


@require_GET
def home(request):
    return render(request, "home.html")


@never_cache
@require_GET
def demo_callback(request):
    """Where the seeded demo client lands: shows the code to redeem at the token endpoint."""
    if not settings.DEMO_PAGES_ENABLED:
        raise Http404
    return render(
        request,
        "demo_callback.html",
        {
            "code": request.GET.get("code", ""),
            "error": request.GET.get("error", ""),
            "error_description": request.GET.get("error_description", ""),
            "state": request.GET.get("state", ""),
        },
    )


def bad_request(request, exception):
    """400 for a request Django cannot parse (a body in another charset, broken multipart...)."""
    match = getattr(request, "resolver_match", None)
    if match and match.view_name in CLIENT_AUTHENTICATION_VIEWS:
        # RFC 6749 §5.2: these endpoints answer errors in JSON.
        return oauth_error("invalid_request", "Unreadable request.")
    return defaults.bad_request(request, exception)
