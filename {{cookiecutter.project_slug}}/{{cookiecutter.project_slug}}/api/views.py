"""
The sample protected resource: replace it with your API, or copy its pattern.

RFC 6750: the bearer token travels in the Authorization header (oauth.common.BearerTokenTransport).
"""

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import OAuthProtectedResourceMetadataView, ScopedProtectedResourceMetadataView

from ..oauth.claims import subject
from ..oauth.common import BearerTokenTransport
from ..oauth.resources import sample_resource

# The first scope of OAUTH_SCOPES: `read` with the sample scopes.
REQUIRED_SCOPES = list(settings.OAUTH_APP_SCOPES)[:1]


class MeMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 §3: the metadata of /api/me/, at /.well-known/oauth-protected-resource/api/me/."""

    def get_resource(self, request):
        # §3.3: exactly the identifier the metadata URL was built from, the one to ask tokens for.
        return sample_resource(request)

    def get_scopes_supported(self):
        return REQUIRED_SCOPES


class MeView(BearerTokenTransport, ScopedProtectedResourceMetadataView):
    """
    A sample protected resource: who the token speaks for, and what it may do.

    Answers 401 with a `WWW-Authenticate: Bearer` challenge naming its metadata (RFC 9728 §5.1)
    without a valid token, or with one bound to another resource (RFC 8707: DOT's audience
    check), and 403 `insufficient_scope` without the required scope (RFC 6750 §3); 400
    `invalid_request` for a token in the query string (RFC 6750 §3.1, OAuth 2.1 §5.2).
    """

    required_scopes = REQUIRED_SCOPES

    def get_resource_metadata_url(self, request):
        return oauth2_settings.oidc_issuer(request).rstrip("/") + reverse("api-me-metadata")

    def verify_request(self, request):
        valid, oauthlib_request = super().verify_request(request)
        if valid:
            request.access_token = oauthlib_request.access_token
        return valid, oauthlib_request

    def get(self, request, *args, **kwargs):
        token = request.access_token
        body = {"client_id": token.application.client_id, "scope": token.scope.split()}
        if token.user is not None:
            body["user"] = {"sub": subject(token.user), "username": token.user.get_username()}
        return JsonResponse(body)
