# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
How django-allauth, the sign-in (docs/accounts.md), fits this server: its adapters and the forms
it is given (ACCOUNT_ADAPTER, USERSESSIONS_ADAPTER, ACCOUNT_FORMS, MFA_FORMS in settings). To
change allauth's behaviour further, subclass AccountAdapter in your own package and point
ACCOUNT_ADAPTER at it.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.core import context
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal.auth import TOTP
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.core.exceptions import ValidationError

from . import audit
from .addresses import client_address
from .user_grants import revoke_other_sign_ins


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """Open sign-up only when ACCOUNT_ALLOW_SIGNUPS says so: an organisation invites its users."""
        return settings.ACCOUNT_ALLOW_SIGNUPS

    def get_client_ip(self, request):
        """The address allauth's rate limits and the sessions page see: the same as the project's
        throttling, believing THROTTLE_IP_HEADER only from FORWARDED_ALLOW_IPS."""
        return client_address(request)

    def pre_authenticate(self, request, **credentials):
        """allauth's failed-sign-in limits; a refusal is the audit trail's lockout (audit.py)."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            audit.locked_out(request, str(credentials.get("email", credentials.get("username", ""))))
            raise


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions):
        """
        The sessions page's "sign out the others" also revokes what the other sign-ins granted
        clients (user_grants.py says which): a signed-out session's refresh tokens would otherwise
        keep its access. allauth's usersessions sends no signal for it; this is its one hook.
        """
        request = context.request
        if any(not session.is_current() for session in sessions) and request.user.is_authenticated:
            revoke_other_sign_ins(request, request.user)
        super().end_sessions(sessions)


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # allauth labels the field "Login" when it takes a username or an e-mail address.
        self.fields["login"].label = "Username or e-mail address"


class ActivateTOTPForm(AllauthActivateTOTPForm):
    def clean_code(self):
        """
        The code that proves the authenticator app works is spent, as every code a sign-in
        accepts is (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP
        after the successful validation has been issued"). allauth checks it without recording
        it, so whoever saw it could use it at the second-factor step within its 30 s; checking
        it as the new authenticator's records it as used.
        """
        code = super().clean_code()
        secret = get_mfa_adapter().encrypt(self.secret)
        authenticator = Authenticator(user=self.user, type=Authenticator.Type.TOTP, data={"secret": secret})
        if not TOTP(authenticator).validate_code(code):
            raise get_mfa_adapter().validation_error("incorrect_code")
        return code
