"""allauth's forms (README, "Accounts"), worded for this server's sign-in."""

from allauth.account.forms import LoginForm as AllauthLoginForm


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # allauth labels the field "Login" when it takes a username or an e-mail address.
        self.fields["login"].label = "Username or e-mail address"
