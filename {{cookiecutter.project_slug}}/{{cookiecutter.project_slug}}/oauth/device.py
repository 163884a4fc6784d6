"""
The device authorization grant (RFC 8628): a device without a browser shows a code, and its
user enters and approves it on another screen.

- `DeviceAuthorizationView`: the device authorization endpoint (§3.1-3.2), where the device
  gets its codes.
- `DeviceUserCodeView` and DOT's pages after it at /o/device/ (templates/oauth2_provider/device/):
  the user enters the code and allows or denies (§3.3). Wrong codes are throttled in
  middleware/throttling.py (§5.1). `DeviceConfirmView`, where the user allows, asks a client's
  second factor first (Application.requires_multi_factor).
- `load_device_grant` and `redeem_device_grant`: the token endpoint's answer to the device's
  polls (§3.4-3.5), run by oauthlib before and after it issues the token (see server.py).
"""

import json
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404
from django.utils import timezone
from oauth2_provider import views as oauth2_views
from oauth2_provider.models import get_application_model, get_device_grant_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.device import DeviceGrantForm
from oauth2_provider.views.metadata import ServerMetadataViewMixin
from oauthlib.oauth2 import DeviceApplicationServer
from oauthlib.oauth2.rfc6749 import errors, utils
from oauthlib.oauth2.rfc8628 import errors as device_errors

from . import authentication_context
from .authorization import second_factor_response
from .common import DEVICE_CODE_GRANT, check_parameter_limits, lock_rows
from .resources import check_resources

# User codes: RFC 8628 §6.1, §5.1

# Base 20, as §6.1 suggests: no vowels (no words spelled by chance), no digits to mistake for
# letters. 8 characters make 20**8, about 2**34.6 codes (§5.1's example); with wrong guesses
# throttled per user and per address (THROTTLE_USER_CODE_FAILURES_PER_*, middleware/throttling.py),
# an address's chance at a given code is about 2**-30 per window. DOT's own codes (base 32,
# with 0/O and 1/I) must be typed exactly.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


def user_code_from(text):
    """The stored form of a user code, however it was typed: §6.1 says to compare codes without
    the dashes and other punctuation added for readability, and without regard to case. Shown
    to the user as XXXX-XXXX; the same function forms new codes, so both sides always agree."""
    characters = re.sub(r"[\W_]", "", text).upper()
    if len(characters) != USER_CODE_LENGTH:
        return characters  # matches no code
    half = USER_CODE_LENGTH // 2
    return f"{characters[:half]}-{characters[half:]}"


def generate_user_code():
    device_grants = get_device_grant_model().objects
    while True:
        characters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        user_code = user_code_from(characters)
        # DOT finds a grant by its user code alone (and fails with a 500 on two).
        if not device_grants.filter(user_code=user_code).exists():
            return user_code


class UserCodeForm(DeviceGrantForm):
    def clean_user_code(self):
        self.cleaned_data["user_code"] = user_code_from(self.cleaned_data["user_code"])
        return super().clean_user_code()


class DeviceUserCodeView(oauth2_views.DeviceUserCodeView):
    """DOT's page where the user enters the code (§3.3), with codes compared as §6.1 says."""

    form_class = UserCodeForm


# Device authorization endpoint: RFC 8628 §3.1-3.2


class DeviceConfirmView(oauth2_views.DeviceConfirmView):
    """DOT's page where the user allows or denies the device; for a client that requires
    multi-factor, only once the session has it, as for a code (authorization.py)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            application = get_object_or_404(get_application_model(), client_id=kwargs["client_id"])
            no_level_asked = authentication_context.Request(levels=(), essential=None)
            shortfall = authentication_context.shortfall(
                request, application, no_level_asked, authentication_context.of_session(request)
            )
            if shortfall is not None:
                here = request.get_full_path()
                return second_factor_response(
                    request, shortfall, application, here, lambda: redirect_to_login(here)
                )
        return super().dispatch(request, *args, **kwargs)


class DeviceAuthorizationServer(DeviceApplicationServer):
    """oauthlib's device authorization endpoint, with the checks it leaves out."""

    def __init__(self, *args, **kwargs):
        # Codes of our own (DOT's OAUTH_DEVICE_USER_CODE_GENERATOR takes a function, not its
        # dotted path, and the settings cannot import this module).
        kwargs["user_code_generator"] = generate_user_code
        super().__init__(*args, **kwargs)

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
        # RFC 8707 §2: an unknown resource is invalid_target, as at the other endpoints. A known one
        # too: a device code keeps no resource (DOT's DeviceGrant), and the client must not believe
        # its token bound when it is not; it names the resource in its token request (§2.2).
        check_resources(request)
        if any(name == "resource" for name, _ in request.decoded_body or []):
            raise errors.CustomOAuth2Error(
                "invalid_target",
                description="Name the resource in the device's token requests, not here (RFC 8707 §2.2).",
                request=request,
            )
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

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            # RFC 8628 §3.5: polls are held to the interval the device was told (DOT stores its
            # model's default, 5, whatever DEVICE_FLOW_INTERVAL says). The first poll may come at
            # once: the interval spaces polls, it does not delay the first.
            codes = json.loads(response.content)
            get_device_grant_model().objects.filter(device_code=codes["device_code"]).update(
                interval=codes["interval"], last_checked=timezone.now() - timedelta(seconds=codes["interval"])
            )
        return response


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
        keep_to_the_interval(device_grant, request)
        raise device_errors.AuthorizationPendingError(request=request)
    # The authorization session has concluded: a replay of the code gets expired_token.
    device_grant.status = device_grant.EXPIRED
    device_grant.save(update_fields=["status"])


# RFC 8628 §3.5: a device polling sooner than `interval` seconds after its previous poll gets
# slow_down, and must wait 5 seconds longer from then on.
SLOW_DOWN_SECONDS = 5


def keep_to_the_interval(device_grant, request):
    """Checked only once the poll comes from the code's own client, so slow_down tells nobody
    else that the code exists, and nobody else's polls slow its device down. The last poll is
    DOT's `last_checked`, in the database every worker shares (the row is locked since
    load_device_grant, so of two polls at once the second sees the first)."""
    too_soon = timezone.now() - device_grant.last_checked < timedelta(seconds=device_grant.interval)
    if too_soon:
        device_grant.interval += SLOW_DOWN_SECONDS
    device_grant.save(update_fields=["interval", "last_checked"])  # last_checked: auto_now
    if too_soon:
        raise device_errors.SlowDownError(request=request)
