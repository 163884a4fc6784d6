"""The sample API's routes, from the site root: the resource, and its RFC 9728 metadata (§3.1)."""

from django.urls import path

from . import metadata, views

urlpatterns = [
    path("api/me/", views.MeView.as_view(), name="api-me"),
    path(
        ".well-known/oauth-protected-resource/api/me/",
        metadata.MeMetadataView.as_view(),
        name="api-me-metadata",
    ),
]
