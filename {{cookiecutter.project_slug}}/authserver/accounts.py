# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
How django-allauth, the sign-in (docs/accounts.md), fits this server: its adapters and the forms
it is given (ACCOUNT_ADAPTER, USERSESSIONS_ADAPTER, ACCOUNT_FORMS, MFA_FORMS in settings). To
change allauth's behaviour further, subclass AccountAdapter in your own package and point
ACCOUNT_ADAPTER at it.
"""

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.models import EmailAddress
from allauth.account.views import EmailView as AllauthEmailView
from allauth.core import context as allauth_context
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal.auth import TOTP
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.sites.requests import RequestSite
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from . import audit
from .addresses import client_address
from .issuer import site_origin
from .user_grants import revoke_other_sign_ins
from .view_policy import ACCOUNT_PAGE, declare


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

    def can_delete_email(self, email_address):
        """
        allauth gives the removed address's place as the user's `email` to another of their
        addresses, verified or not: removing the released address must not make an address the
        user never proved their `email` claim (OIDC Core §5.7), as marking it primary cannot
        (EmailView). Removing it is allowed when a verified address takes its place, or none does.
        """
        if not super().can_delete_email(email_address):
            return False
        user = email_address.user
        if email_address.email.lower() != (user.email or "").lower():
            return True
        others = EmailAddress.objects.filter(user=user).exclude(pk=email_address.pk)
        return not others.exists() or others.filter(verified=True).exists()

    def get_reauthentication_methods(self, user):
        """allauth's "Confirm Access" alternatives, in the site's words: WebAuthn credentials are
        passkeys on every page (the templates copied to authserver/templates/ say so too)."""
        methods = super().get_reauthentication_methods(user)
        for method in methods:
            if method["id"] == "mfa_reauthenticate:webauthn":
                method["description"] = "Use a passkey"
        return methods

    def send_mail(self, template_prefix, email, context):
        """
        Every link in an e-mail, and the site it names, on the configured origin (OAUTH_ISSUER):
        allauth builds the reset, verification and sign-up links, and its `current_site`, from
        the request's Host header, which the client writes (its port is not checked by
        ALLOWED_HOSTS), so anyone could have the server mail a link to another port or server.
        """
        request = allauth_context.request
        origin = request.build_absolute_uri("/").rstrip("/")
        site = site_origin(request)
        context = {
            key: site + value[len(origin) :]
            if isinstance(value, str) and value.startswith(origin + "/")
            else value
            for key, value in context.items()
        }
        current_site = RequestSite(request)
        current_site.domain = current_site.name = site.split("://", 1)[1]
        super().send_mail(template_prefix, email, {"current_site": current_site, **context})


def belongs_to_another_account(email, user):
    """Whether another account verified `email`, or has it as its own address (User.email, which
    the claims release as theirs): an address one account may not add (AddEmailForm)."""
    verified_elsewhere = EmailAddress.objects.filter(email__iexact=email, verified=True).exclude(user=user)
    given_elsewhere = get_user_model().objects.filter(email__iexact=email).exclude(pk=user.pk)
    return verified_elsewhere.exists() or given_elsewhere.exists()


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions):
        """
        The sessions page's "sign out the others" also revokes what the other sign-ins granted
        clients (user_grants.py says which): a signed-out session's refresh tokens would otherwise
        keep its access. allauth's usersessions sends no signal for it; this is its one hook.
        """
        request = allauth_context.request
        if any(not session.is_current() for session in sessions) and request.user.is_authenticated:
            revoke_other_sign_ins(request, request.user)
        super().end_sessions(sessions)


class AddEmailForm(AllauthAddEmailForm):
    def clean_email(self):
        """
        An address of another account is refused (OIDC Core §5.7: the `email` claim is the
        user's own; relying parties that link accounts by e-mail would take one for the other).
        allauth lets it be added unverified when it hides which addresses have accounts
        (ACCOUNT_PREVENT_ENUMERATION): here only a signed-in user, within the manage_email rate
        limit, learns that an address is taken, and a verification link its owner follows by
        mistake can no longer hand it to someone else.
        """
        email = super().clean_email()
        if belongs_to_another_account(email, self.user):
            raise get_adapter().validation_error("email_taken")
        return email


@declare(ACCOUNT_PAGE)
class EmailView(AllauthEmailView):
    """allauth's e-mail addresses page (/accounts/email/), where an unverified address never
    becomes primary: the primary address is the user's `email` claim (OIDC Core §5.7). allauth
    allows it while the user has no verified address, as an invited user has not yet."""

    def post(self, request, *args, **kwargs):
        if "action_primary" in request.POST:
            email = request.POST.get("email", "").lower()
            address = EmailAddress.objects.filter(user=request.user, email=email).first()
            if address is not None and not address.verified:
                get_adapter().add_message(
                    request, messages.ERROR, "account/messages/unverified_primary_email.txt"
                )
                return HttpResponseRedirect(self.get_success_url())
        return super().post(request, *args, **kwargs)


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # allauth labels the field "Login" when it takes a username or an e-mail address.
        self.fields["login"].label = "Username or email address"


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
