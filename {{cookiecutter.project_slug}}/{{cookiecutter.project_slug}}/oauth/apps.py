from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.oauth"
    label = "oauth"
    verbose_name = "OAuth clients"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
