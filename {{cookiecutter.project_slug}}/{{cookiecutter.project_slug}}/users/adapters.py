"""How django-allauth, the sign-in (README, "Accounts"), fits this server's settings."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from ..middleware.throttling import client_address


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """Open sign-up only when ACCOUNT_ALLOW_SIGNUPS says so: an organisation invites its users."""
        return settings.ACCOUNT_ALLOW_SIGNUPS

    def get_client_ip(self, request):
        """The address allauth's rate limits and the sessions page see: the same as the project's
        throttling, believing THROTTLE_IP_HEADER only from FORWARDED_ALLOW_IPS."""
        return client_address(request)
