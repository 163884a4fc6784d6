"""
RFC 9728 protected resource metadata of the sample resource /api/me/, whichever framework
serves it (views.py): clients find from it which authorization server to ask, and for what.
"""

from django.conf import settings
from django.urls import reverse
from oauth2_provider.views import OAuthProtectedResourceMetadataView

from authserver.issuer import issuer
from authserver.view_policy import METADATA, declare

# The first scope of OAUTH_SCOPES: `read` with the sample scopes.
REQUIRED_SCOPES = list(settings.OAUTH_APP_SCOPES)[:1]


def me_resource(request):
    """The resource identifier of /api/me/ (RFC 9728 §1.2): its URL on the issuer's origin."""
    return issuer(request) + reverse("api-me")


def me_metadata_url(request):
    """§5.1: the URL a 401 or 403 of /api/me/ names in its challenge (Django's request or REST
    framework's)."""
    return issuer(request) + reverse("api-me-metadata")


@declare(METADATA)
class MeMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 §3: the metadata of /api/me/, at /.well-known/oauth-protected-resource/api/me/."""

    def get_resource(self, request):
        # §3.3: exactly the identifier the metadata URL was built from, the one to ask tokens for.
        return me_resource(request)

    def get_scopes_supported(self):
        return REQUIRED_SCOPES
