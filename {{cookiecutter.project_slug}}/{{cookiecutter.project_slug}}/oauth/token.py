"""
The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; RFC 8628 §3.4): codes, refresh tokens,
client credentials and device codes are exchanged for tokens here.

The view is DOT's; oauthlib's grants (server.py) run the request validator (validator.py).
"""

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as oauth2_views
from oauth2_provider.signals import app_authorized

from .common import CLIENT_AUTHENTICATION_CHALLENGE, OneClientAuthenticationMethod


class ClientAuthenticationErrors(OneClientAuthenticationMethod):
    """RFC 6749 §5.2 error responses where clients authenticate: the token and revocation endpoints."""

    # A dispatch of its own hides DOT's csrf_exempt one: clients post here, not browsers.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 401:
            # RFC 6749 §5.2: the challenge names the scheme clients authenticate with (oauthlib: Bearer).
            response["WWW-Authenticate"] = CLIENT_AUTHENTICATION_CHALLENGE
        if response.content:
            # RFC 6749 §5.1-5.2: the body is JSON; oauthlib leaves the type off some errors.
            response["Content-Type"] = "application/json"
        return response


class TokenView(ClientAuthenticationErrors, oauth2_views.TokenView):
    """DOT's token endpoint, with device codes checked by oauthlib like every other grant."""

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def post(self, request, *args, **kwargs):
        # DOT answers a device poll from the grant's state before it authenticates the
        # client or checks whose code it is, and with a 500 when device_code is missing.
        if app_authorized.has_listeners():
            return self.authorization_flow_token_response(request)
        # DOT reads back the token it has just written only to send app_authorized: with no
        # receiver connected, that query is skipped.
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response
