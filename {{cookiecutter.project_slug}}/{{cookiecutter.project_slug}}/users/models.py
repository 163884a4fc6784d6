from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """
    The project's user. Add profile fields here; expose them as OIDC claims in oauth/claims.py.
    """

    # OIDC Core §5.1 `updated_at`: when the user's information last changed. Every save()
    # counts; QuerySet.update() and a sign-in (which saves last_login alone) do not.
    updated_at = models.DateTimeField("updated at", auto_now=True)
