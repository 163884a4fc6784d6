"""
The device authorization grant (RFC 8628): a device without a browser shows a code, and its
user enters and approves it on another screen.

- `DeviceAuthorizationView`: the device authorization endpoint (§3.1-3.2), where the device
  gets its codes.
- DOT's pages at /o/device/ (templates/oauth2_provider/device/): the user enters the code and
  allows or denies (§3.3).
- `load_device_grant` and `redeem_device_grant`: the token endpoint's answer to the device's
  polls (§3.4-3.5), run by oauthlib before and after it issues the token (see server.py).
"""

from urllib.parse import urlencode

from oauth2_provider import views as oauth2_views
from oauth2_provider.models import get_device_grant_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.metadata import ServerMetadataViewMixin
from oauthlib.oauth2 import DeviceApplicationServer
from oauthlib.oauth2.rfc6749 import errors, utils
from oauthlib.oauth2.rfc8628 import errors as device_errors

from .common import DEVICE_CODE_GRANT, check_parameter_limits, lock_rows

# Device authorization endpoint: RFC 8628 §3.1-3.2


class DeviceAuthorizationServer(DeviceApplicationServer):
    """oauthlib's device authorization endpoint, with the checks it leaves out."""

    def validate_device_authorization_request(self, request):
        # RFC 6749 Appendix B: the media type counts, not a charset parameter after it;
        # oauthlib compares the whole header, and fails with a 500 when there is none.
        media_type = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise errors.InvalidRequestError(
                "Content-Type must be application/x-www-form-urlencoded.", request=request
            )
        request.headers["Content-Type"] = media_type
        # As oauthlib's token, revocation and introspection endpoints: parameters travel in the
        # body only (DOT would otherwise read the raw URL again, and fail on a bad query with a 500).
        self._raise_on_bad_post_request(request)
        check_parameter_limits(request)
        try:
            super().validate_device_authorization_request(request)
        except errors.InvalidClientIdError as error:
            # RFC 6749 §5.2: an unknown client is invalid_client (oauthlib: invalid_request).
            raise errors.InvalidClientError(request=request) from error
        # RFC 8628 §3.2 with RFC 6749 §5.2: refuse a client without the grant, or a scope it
        # may not have, now rather than after the user has approved it.
        validator = self.request_validator
        if not validator.validate_grant_type(request.client_id, DEVICE_CODE_GRANT, request.client, request):
            raise errors.UnauthorizedClientError(request=request)
        scopes = utils.scope_to_list(request.scope) or []
        if not validator.validate_scopes(request.client_id, scopes, request.client, request):
            raise errors.InvalidScopeError(request=request)


class DeviceAuthorizationView(ServerMetadataViewMixin, oauth2_views.DeviceAuthorizationView):
    server_class = DeviceAuthorizationServer

    def create_device_authorization_response(self, request):
        headers, data, status = super().create_device_authorization_response(request)
        if status == 200 and request.POST.get("scope"):
            # RFC 6749 §3.3: DOT stores the scope as sent (a set, so "read read" is "read").
            request.POST = request.POST.copy()
            request.POST["scope"] = " ".join(dict.fromkeys(request.POST["scope"].split()))
        if status == 200 and not oauth2_settings.OAUTH_DEVICE_VERIFICATION_URI:
            # RFC 8628 §3.2: the verification URI is absolute. Without a fixed
            # OAUTH_DEVICE_VERIFICATION_URI it is on the issuer's origin, like discovery's URLs.
            verification_uri = self._get_endpoint_url(request, "device", required=True)
            data["verification_uri"] = verification_uri
            query = urlencode({"user_code": data["user_code"]})
            data["verification_uri_complete"] = f"{verification_uri}?{query}"
        return headers, data, status


# The device's polls at the token endpoint: RFC 8628 §3.4-3.5


def load_device_grant(request):
    """The user and scopes of a device token come from the grant the user approved."""
    device_code = getattr(request, "device_code", None)
    if not device_code:
        raise errors.InvalidRequestError("Missing device_code parameter.", request=request)
    # Of two polls at once, only the first can redeem it.
    device_grants = lock_rows(get_device_grant_model().objects.filter(device_code=device_code))
    if not device_grants:
        # RFC 6749 §5.2 (DOT answers 404 device_not_found).
        raise errors.InvalidGrantError("Unknown device_code.", request=request)
    request.device_grant = device_grants[0]
    request.user = request.device_grant.user
    request.scopes = request.device_grant.scope.split()


def redeem_device_grant(request):
    """RFC 8628 §3.5: answer a poll from the state of the grant; issue a token only once."""
    device_grant = request.device_grant
    if device_grant.client_id != request.client.client_id:
        raise errors.InvalidGrantError("The device_code was issued to another client.", request=request)
    if device_grant.status == device_grant.DENIED:
        raise device_errors.AccessDenied(request=request)
    if device_grant.is_expired():
        raise device_errors.ExpiredTokenError(request=request)
    if device_grant.status != device_grant.AUTHORIZED:
        raise device_errors.AuthorizationPendingError(request=request)
    # The authorization session has concluded: a replay of the code gets expired_token.
    device_grant.status = device_grant.EXPIRED
    device_grant.save(update_fields=["status"])
