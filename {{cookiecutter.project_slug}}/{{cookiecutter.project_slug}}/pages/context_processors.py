from django.conf import settings


def server(request):
    """What every page shows: the project's name."""
    return {"server_name": settings.PROJECT_NAME}
