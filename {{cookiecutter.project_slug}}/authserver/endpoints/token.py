# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; RFC 8628 §3.4): codes, refresh tokens,
client credentials and device codes are exchanged for tokens here.

The view is DOT's; oauthlib's grants (server.py) run the request validator (validator.py).

It runs outside the request's transaction and opens its own (transactions.py): a grant that
redeems something (a code, a refresh token, a device code) in one transaction from its check to
its writes, so that of two redemptions at once the second finds it used; client credentials,
which redeem nothing, only around the token's writes (validator.save_bearer_token), so that on
SQLite the one write lock is held for those writes alone.
"""

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as oauth2_views
from oauth2_provider.models import AbstractApplication
from oauth2_provider.signals import app_authorized

from ..client_authentication import ClientAuthenticationErrors
from ..transactions import write_transaction
from ..view_policy import OAUTH_ENDPOINT, Throttle, declare


@declare(OAUTH_ENDPOINT, throttle=Throttle.CLIENT_AUTHENTICATION, own_transactions=True)
class TokenView(ClientAuthenticationErrors, oauth2_views.TokenView):
    """DOT's token endpoint, with device codes checked by oauthlib like every other grant, and
    without DOT's read-back of each token it wrote."""

    def post(self, request, *args, **kwargs):
        grant_type = request.POST.get("grant_type")
        if grant_type == "client_credentials":  # RFC 6749 §4.4.2
            return super().post(request, *args, **kwargs)
        with write_transaction():
            if grant_type == AbstractApplication.GRANT_DEVICE_CODE:
                # RFC 8628 §3.4-3.5: DOT's device_flow_token_response answers a poll from the
                # grant's state before it authenticates the client or checks whose code it is, and
                # with a 500 when device_code is missing. DOT's general path runs oauthlib's device
                # grant, with this server's checks (device_codes.py). Until DOT authenticates the
                # client first.
                return self.authorization_flow_token_response(request)
            return super().post(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        if app_authorized.has_listeners(self):
            return super().authorization_flow_token_response(request, *args, **kwargs)
        # DOT's method, less the one query it makes for app_authorized: it reads back the token
        # just written, by its checksum, to send it. With no receiver for the signal, the read
        # is skipped. tests/test_performance.py compares DOT's method with this copy: when DOT
        # changes it, mirror the change (or drop this override if DOT sends the signal without
        # the read).
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response
