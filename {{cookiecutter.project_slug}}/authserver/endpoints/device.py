# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The device authorization grant (RFC 8628): a device without a browser shows a code, and its
user enters and approves it on another screen.

- `DeviceAuthorizationView`: the device authorization endpoint (§3.1-3.2), where the device
  gets its codes.
- `DeviceUserCodeView` and the pages after it at /o/device/ (templates/oauth2_provider/device/):
  the user enters the code and allows or denies (§3.3). Wrong codes are throttled
  (middleware/throttling.py, §5.1). `DeviceConfirmView`, where the user allows, asks a client's
  second factor first (ServerAdapter.requires_multi_factor).
- The codes themselves, and the token endpoint's answer to the device's polls (§3.4-3.5), are
  in device_codes.py.
"""

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404
from django.utils import timezone
from oauth2_provider import views as oauth2_views
from oauth2_provider.models import AbstractApplication, get_application_model, get_device_grant_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.device import DeviceGrantForm
from oauthlib.oauth2 import DeviceApplicationServer
from oauthlib.oauth2.rfc6749 import errors, utils

from .. import authentication_context
from ..consent import about_client
from ..device_codes import generate_user_code, user_code_from
from ..issuer import endpoint_url
from ..parameters import check_body_only, check_parameter_limits
from ..resources import check_resources
from ..scopes import describe_scopes
from ..view_policy import OAUTH_ENDPOINT, PRIVATE_PAGE, Throttle, declare
from .authorization import second_factor_response


class UserCodeForm(DeviceGrantForm):
    def clean_user_code(self):
        self.cleaned_data["user_code"] = user_code_from(self.cleaned_data["user_code"])
        return super().clean_user_code()


@declare(PRIVATE_PAGE, throttle=Throttle.USER_CODE)
class DeviceUserCodeView(oauth2_views.DeviceUserCodeView):
    """DOT's page where the user enters the code (§3.3), with codes compared as §6.1 says."""

    form_class = UserCodeForm


@declare(PRIVATE_PAGE)
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

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # In the server's order, as the consent and consents pages list them.
        context["scopes_descriptions"] = describe_scopes(context["scopes"])
        # More than the client's self-chosen name (consent.about_client); a device has no redirect.
        context["about_client"] = about_client(context["application"])
        return context


@declare(PRIVATE_PAGE)
class DeviceGrantStatusView(oauth2_views.DeviceGrantStatusView):
    """DOT's page where the user of a device, once the code is allowed or denied, sees which (§3.3)."""


# Device authorization endpoint: RFC 8628 §3.1-3.2


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
        check_body_only(request)
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
        if not validator.validate_grant_type(
            request.client_id, AbstractApplication.GRANT_DEVICE_CODE, request.client, request
        ):
            raise errors.UnauthorizedClientError(request=request)
        scopes = utils.scope_to_list(request.scope) or []
        if not validator.validate_scopes(request.client_id, scopes, request.client, request):
            raise errors.InvalidScopeError(request=request)


@declare(OAUTH_ENDPOINT, throttle=Throttle.CLIENT_AUTHENTICATION)
class DeviceAuthorizationView(oauth2_views.DeviceAuthorizationView):
    server_class = DeviceAuthorizationServer

    def create_device_authorization_response(self, request):
        headers, data, status = super().create_device_authorization_response(request)
        if status == 200:
            # oauthlib 4 adds the scope it resolved, which RFC 8628 §3.2 does not define and DOT
            # 3.4's DeviceCodeResponse refuses (a 500); DOT stores the scope itself (below). Can go
            # when DOT accepts it.
            data.pop("scope", None)
        if status == 200 and request.POST.get("scope"):
            # RFC 6749 §3.3: DOT stores the scope as sent (a set, so "read read" is "read").
            request.POST = request.POST.copy()
            request.POST["scope"] = " ".join(dict.fromkeys(request.POST["scope"].split()))
        if status == 200 and not oauth2_settings.OAUTH_DEVICE_VERIFICATION_URI:
            # RFC 8628 §3.2: the verification URI is absolute. Without a fixed
            # OAUTH_DEVICE_VERIFICATION_URI it is on the issuer's origin, like discovery's URLs.
            verification_uri = endpoint_url(request, "device")
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
