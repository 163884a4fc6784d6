# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The scopes this server offers (OAUTH_SCOPES in settings, from the environment), as the
registration policy and the clients known by their metadata documents see them.
"""

from django.conf import settings


def registrable_scopes():
    """What a client that registers itself may ask for: the server's own scopes, and OpenID's."""
    return set(settings.OAUTH_APP_SCOPES) | set(settings.OIDC_SCOPES)
