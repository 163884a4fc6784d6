"""
The sample protected resource, written with Django REST framework: replace it with your API,
or copy its pattern.

RFC 6750: the bearer token travels in the Authorization header (authserver.bearer.BearerTokenTransport).
DOT's OAuth2ProtectedResourceAuthentication checks it; TokenHasScope checks its scope (use
TokenHasReadWriteScope for read on safe methods and write on the others).
"""

from django.db import transaction
from oauth2_provider.contrib.rest_framework import OAuth2ProtectedResourceAuthentication, TokenHasScope
from oauth2_provider.www_authenticate import build_bearer_challenge
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from authserver.adapter import get_adapter
from authserver.bearer import BearerTokenTransport
from authserver.view_policy import API, declare

from .metadata import REQUIRED_SCOPES, me_metadata_url

# What DOT's own protected-resource views say of a token without the required scope.
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The access token is valid but does not have enough scope.",
}


class MeAuthentication(OAuth2ProtectedResourceAuthentication):
    """DOT's bearer authentication, whose challenge names the metadata of /api/me/ (RFC 9728 §5.1)."""

    def get_resource_metadata_url(self, request):
        return me_metadata_url(request)


# Read-only: no request transaction, whose SQLite write lock would make requests queue
# (docs/performance.md). A view of yours that writes leaves read_only out.
@declare(API, read_only=True)
class MeView(BearerTokenTransport, APIView):
    """
    A sample protected resource: who the token speaks for, and what it may do.

    Answers 401 with a `WWW-Authenticate: Bearer` challenge without a valid token
    and 403 `insufficient_scope` without the required scope (RFC 6750 §3); 400
    `invalid_request` for a token in the query string (RFC 6750 §3.1, OAuth 2.1 §5.2).
    The challenges name the RFC 9728 protected-resource metadata document.
    """

    authentication_classes = [MeAuthentication]
    permission_classes = [TokenHasScope]
    required_scopes = REQUIRED_SCOPES

    def permission_denied(self, request, message=None, code=None):
        if request.auth is None:
            super().permission_denied(request, message, code)
        # RFC 6750 §3.1: a valid token without the scope is a 403 that still carries a Bearer
        # challenge; DRF's own 403 has none. Its exception handler sends auth_header as one.
        denied = PermissionDenied(message, code)
        denied.auth_header = build_bearer_challenge(
            request, oauth2_error=INSUFFICIENT_SCOPE, resource_metadata_url=me_metadata_url(request)
        )
        raise denied

    def handle_exception(self, exc):
        # DRF's exception handler marks the open transaction for rollback, taking it for the
        # request's (ATOMIC_REQUESTS). This view runs outside one (read_only), so an open one is
        # someone else's, in a test the test's own (encode/django-rest-framework#6921): a
        # savepoint takes the mark instead.
        if not transaction.get_connection().in_atomic_block:
            return super().handle_exception(exc)
        with transaction.atomic():
            return super().handle_exception(exc)

    def get(self, request, *args, **kwargs):
        token = request.auth
        body = {"client_id": token.application.client_id, "scope": token.scope.split()}
        if token.user is not None:
            body["user"] = {"sub": get_adapter().subject(token.user), "username": token.user.get_username()}
        return Response(body)
