from django.db import transaction
from django.urls import path

from . import metadata, views

read_only = transaction.non_atomic_requests

urlpatterns = [
    # Read-only: no request transaction, whose SQLite write lock would make requests queue
    # (see README, "Performance"). A view of yours that writes must stay atomic.
    path("me/", read_only(views.MeView.as_view()), name="api-me"),
]

# RFC 9728 §3.1: the metadata lives at the site root (config/urls.py mounts these there).
metadata_urlpatterns = [
    path(
        ".well-known/oauth-protected-resource/api/me/",
        read_only(metadata.MeMetadataView.as_view()),
        name="api-me-metadata",
    ),
]
