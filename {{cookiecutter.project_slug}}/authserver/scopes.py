# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The scopes this server offers (OAUTH_SCOPES in settings, from the environment), as the
registration policy and the clients known by their metadata documents see them.
"""

from contextvars import ContextVar

from django.conf import settings

# The scopes the metadata document being stored asks for, as (client_id, scope): set by
# endpoints/registration.py's fetcher, read by models.Application.save when DOT's resolver then
# stores the client, in the same request (DOT hands the document's scope to neither).
asked_by_document = ContextVar("asked_by_document", default=(None, ""))


def registrable_scopes():
    """What a client that registers itself may ask for: the server's own scopes, and OpenID's."""
    return set(settings.OAUTH_APP_SCOPES) | set(settings.OIDC_SCOPES)
