from django.conf import settings


def server(request):
    return {"server_name": settings.PROJECT_NAME}
