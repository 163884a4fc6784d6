# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
This server's issuer identifier (OIDC Core §2 `iss`, RFC 8414 §2) and the absolute URLs of its
endpoints, for Django's and REST framework's requests alike.

The issuer is OAUTH_ISSUER when pinned (production), else the origin of the request: the
discovery documents live at the site root (endpoints/urls.py), as DOT's `oidc_issuer` works it out.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse


def issuer(request):
    """The issuer, without a trailing slash."""
    return (settings.OAUTH_ISSUER or request.build_absolute_uri("/")).rstrip("/")


def site_origin(request):
    """
    The origin of the links this server sends away from the request that made them (e-mails):
    OAUTH_ISSUER's when pinned. A Host header is whatever the client wrote, and ALLOWED_HOSTS
    ignores its port, so a link built from it can point at any port of the host. Unpinned (local
    use only: production requires OAUTH_ISSUER), the request's origin, as the issuer is then.
    """
    if settings.OAUTH_ISSUER:
        parts = urlsplit(settings.OAUTH_ISSUER)
        return f"{parts.scheme}://{parts.netloc}"
    return request.build_absolute_uri("/").rstrip("/")


def endpoint_url(request, view_name):
    """The absolute URL of one of DOT's named endpoints (the `oauth2_provider` namespace)."""
    return issuer(request) + reverse(f"oauth2_provider:{view_name}")
