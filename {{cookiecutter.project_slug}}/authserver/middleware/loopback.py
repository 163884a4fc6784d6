# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Local settings only: a browser on http://127.0.0.1:<port> goes to the same page on the issuer,
http://localhost:<port>, when OAUTH_ISSUER pins a localhost origin on that port. Browsers refuse
passkeys (WebAuthn) on an IP address, and one origin keeps one session cookie.

GET and HEAD only: a POST (a token request from a script, a form) would lose its body on a
redirect, so it is answered where it was sent. A temporary redirect: the issuer may change.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponseRedirect
from django.http.request import split_domain_port

LOOPBACK_ADDRESSES = {"127.0.0.1", "[::1]"}
LOOPBACK_NAMES = {"localhost"}


class LoopbackAddressToIssuerMiddleware:
    """Sends GET and HEAD requests on a loopback IP address, at the issuer's port, to the issuer."""

    def __init__(self, get_response):
        issuer = urlsplit(settings.OAUTH_ISSUER)
        if issuer.scheme != "http" or issuer.hostname not in LOOPBACK_NAMES:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.issuer_origin = f"{issuer.scheme}://{issuer.netloc}"
        self.issuer_port = str(issuer.port or 80)

    def __call__(self, request):
        if request.method in {"GET", "HEAD"} and self.on_loopback_address(request):
            return HttpResponseRedirect(self.issuer_origin + request.get_full_path())
        return self.get_response(request)

    def on_loopback_address(self, request):
        # The raw Host header: ALLOWED_HOSTS still judges it when a view asks for it.
        domain, port = split_domain_port(request.headers.get("host", ""))
        return not request.is_secure() and domain in LOOPBACK_ADDRESSES and (port or "80") == self.issuer_port
