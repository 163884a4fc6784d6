# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.conf import settings


def server(request):
    """What every page shows: the project's name, and whether anyone may sign up."""
    return {"server_name": settings.PROJECT_NAME, "signups_open": settings.ACCOUNT_ALLOW_SIGNUPS}
