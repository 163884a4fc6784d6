"""
Your server's decisions: the claims it releases about users, when a user may skip the consent
page, what a sign-in must have before a client is authorised, and the names of the acr levels.

settings.OAUTH_SERVER_ADAPTER names this class. Override any method or attribute of the engine's
DefaultServerAdapter (authserver/adapter.py, where each is documented); docs/customising.md
shows a claim of your own, first-party clients that skip the consent page, and acr values of
your federation. The engine's files stay as the template made them.
"""

from authserver.adapter import DefaultServerAdapter


class ServerAdapter(DefaultServerAdapter):
    """The engine's defaults, unchanged until you override them here."""
