from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """
    The project's user. Add profile fields here; expose them as OIDC claims in
    `{{ cookiecutter.project_slug }}.oauth.validators`.
    """
