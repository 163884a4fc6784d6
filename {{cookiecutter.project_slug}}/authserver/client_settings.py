# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The settings a client or a resource server needs from this server, as create_oauth_client and
create_resource_server print them after creating it: KEY=value lines that a shell (`eval`) and a
.env file both read, a value with spaces quoted, each key named as the discovery documents
(OIDC Discovery 1.0 §3, RFC 8414 §2) name it where they name it at all.
"""

import shlex

from django.conf import settings
from django.urls import reverse

# What stands for the issuer while OAUTH_ISSUER is unset: the origin of each request (issuer.py).
UNPINNED_ISSUER = "<origin>"


def issuer():
    """The issuer identifier, without a trailing slash; UNPINNED_ISSUER when OAUTH_ISSUER is unset."""
    return settings.OAUTH_ISSUER.rstrip("/") or UNPINNED_ISSUER


def url(view_name):
    """The absolute URL of one of the server's named routes (the `oauth2_provider` namespace)."""
    return issuer() + reverse(f"oauth2_provider:{view_name}")


def settings_lines(pairs):
    """KEY=value lines for (key, value) pairs, after a note on the issuer when it is not pinned."""
    lines = []
    if not settings.OAUTH_ISSUER:
        lines += [
            f"# OAUTH_ISSUER is not set, so the issuer is the origin each request reaches (scheme://host:port,"
            f" e.g. http://localhost:8000): put it in place of {UNPINNED_ISSUER}. Set OAUTH_ISSUER in .env"
            " to have full URLs printed.",
        ]
    lines += [f"{key}={shlex.quote(value)}" for key, value in pairs]
    return lines
