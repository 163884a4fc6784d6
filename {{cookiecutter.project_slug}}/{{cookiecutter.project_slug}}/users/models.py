import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """
    The project's user. Add profile fields here; release them as OIDC claims in your adapter
    (../adapter.py: ServerAdapter.claims, docs/customising.md).
    """

    # OIDC Core §5.1 `updated_at`: when the user's information last changed. Every save()
    # counts; QuerySet.update() and a sign-in (which saves last_login alone) do not.
    updated_at = models.DateTimeField("updated at", auto_now=True)

    # OIDC Core §2 `sub`: a stable identifier that is never reassigned. Random rather than the
    # row's id, which would tell every relying party how many users there are and let them
    # line their records up with each other's (§17.3).
    sub = models.UUIDField("subject identifier", default=uuid.uuid4, unique=True, editable=False)
