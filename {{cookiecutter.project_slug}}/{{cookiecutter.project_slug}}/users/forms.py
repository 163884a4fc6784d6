"""allauth's forms (README, "Accounts"), worded and tightened for this server's sign-in."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal.auth import TOTP


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
