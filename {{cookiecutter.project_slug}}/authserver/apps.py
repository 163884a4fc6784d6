# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.apps import AppConfig


class AuthServerConfig(AppConfig):
    name = "authserver"
    # The label of the models' tables and migrations since the first release (oauth_application...).
    label = "oauth"
    verbose_name = "OAuth clients"

    def ready(self):
        from django.conf import settings
        from django.db.backends.signals import connection_created

        from . import audit, checks  # noqa: F401  (checks: registers the system checks)
        from .signing_keys import load_signing_keys
        from .sqlite import keep_database_files_private
        from .token_cache import connect_signals
        from .user_grants import connect_signals as connect_user_grant_signals

        connection_created.connect(keep_database_files_private, dispatch_uid="private-sqlite-files")
        # Every change that could make an accepted access token invalid empties the token caches.
        connect_signals()
        # The audit trail's events from allauth, the clients and the admin's log (audit.py).
        audit.connect_signals()
        # A password changed or reset, a second factor removed, a user deactivated: what the
        # user's other sign-ins granted clients is revoked (user_grants.py).
        connect_user_grant_signals()

        load_signing_keys(
            settings.OAUTH2_PROVIDER, settings.OIDC_RSA_PRIVATE_KEY_FILE, settings.OIDC_INACTIVE_KEYS_DIR
        )
