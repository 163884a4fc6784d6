"""
RFC 9728 protected resource metadata of the sample resource /api/me/, whichever framework
serves it (views.py): clients find from it which authorization server to ask, and for what.
"""

from django.conf import settings
from django.urls import reverse
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import OAuthProtectedResourceMetadataView

from ..oauth.resources import sample_resource

# The first scope of OAUTH_SCOPES: `read` with the sample scopes.
REQUIRED_SCOPES = list(settings.OAUTH_APP_SCOPES)[:1]


def me_metadata_url(request):
    """§5.1: the URL a 401 or 403 of /api/me/ names in its challenge. `request` is Django's, or
    REST framework's, which wraps Django's as `_request` (DOT takes Django's only)."""
    django_request = getattr(request, "_request", request)
    return oauth2_settings.oidc_issuer(django_request).rstrip("/") + reverse("api-me-metadata")


class MeMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 §3: the metadata of /api/me/, at /.well-known/oauth-protected-resource/api/me/."""

    def get_resource(self, request):
        # §3.3: exactly the identifier the metadata URL was built from, the one to ask tokens for.
        return sample_resource(request)

    def get_scopes_supported(self):
        return REQUIRED_SCOPES
