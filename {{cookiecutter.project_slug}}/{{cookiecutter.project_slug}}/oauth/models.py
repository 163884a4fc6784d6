from oauth2_provider.models import AbstractApplication


class Application(AbstractApplication):
    """
    An OAuth client. Swapped in from day one (OAUTH2_PROVIDER_APPLICATION_MODEL)
    so you can add fields, such as a logo or a per-client policy, with a plain
    migration instead of a model swap later.
    """
