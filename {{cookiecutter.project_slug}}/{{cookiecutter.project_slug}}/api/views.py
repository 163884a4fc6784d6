"""
The sample protected resource: replace it with your API, or copy its pattern.

RFC 6750: the bearer token travels in the Authorization header (authserver.bearer.BearerTokenTransport).
"""

from django.http import JsonResponse
from oauth2_provider.views import ScopedProtectedResourceMetadataView

from authserver.adapter import get_adapter
from authserver.bearer import BearerTokenTransport
from authserver.view_policy import API, declare

from .metadata import REQUIRED_SCOPES, me_metadata_url


# Read-only: no request transaction, whose SQLite write lock would make requests queue
# (docs/performance.md). A view of yours that writes leaves read_only out.
@declare(API, read_only=True)
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
        return me_metadata_url(request)

    def verify_request(self, request):
        valid, oauthlib_request = super().verify_request(request)
        if valid:
            request.access_token = oauthlib_request.access_token
        return valid, oauthlib_request

    def get(self, request, *args, **kwargs):
        token = request.access_token
        body = {"client_id": token.application.client_id, "scope": token.scope.split()}
        if token.user is not None:
            body["user"] = {"sub": get_adapter().subject(token.user), "username": token.user.get_username()}
        return JsonResponse(body)
