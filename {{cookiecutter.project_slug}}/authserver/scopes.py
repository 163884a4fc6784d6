# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The scopes this server offers (OAUTH_SCOPES in settings, from the environment), as the
registration policy and the clients known by their metadata documents see them.
"""

from contextvars import ContextVar

from django.conf import settings
from oauth2_provider.scopes import get_scopes_backend

# The scopes the metadata document being stored asks for, as (client_id, scope): set by
# endpoints/registration.py's fetcher, read by models.Application.save when DOT's resolver then
# stores the client, in the same request (DOT hands the document's scope to neither).
asked_by_document = ContextVar("asked_by_document", default=(None, ""))


def registrable_scopes():
    """What a client that registers itself may ask for: the server's own scopes, and OpenID's."""
    return set(settings.OAUTH_APP_SCOPES) | set(settings.OIDC_SCOPES)


def describe_scopes(scopes):
    """What each of `scopes` lets a client do, as the consent page, the device page and the
    consents page all list them: in the order the server offers them (OAUTH_SCOPES, OpenID's
    first), whatever order a client asked in; a scope no longer offered, by its name, last."""
    offered = get_scopes_backend().get_all_scopes()
    position = {name: index for index, name in enumerate(offered)}
    ordered = sorted(dict.fromkeys(scopes), key=lambda name: (position.get(name, len(position)), name))
    return [offered.get(name, name) for name in ordered]
