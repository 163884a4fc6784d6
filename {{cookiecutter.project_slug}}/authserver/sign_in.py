# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
What the authorization endpoint (endpoints/authorization.py) asks of the session's sign-in before it lets
the user authorise a client, and what it tells the client about it (OIDC Core §2 auth_time).

django-allauth signs users in (docs/accounts.md). For every step a user completes, signing
in or re-authenticating (a password, a second factor, a passkey...), it appends a record to
the session, `{"method": "password", "at": <POSIX time>, ...}` or `{"method": "mfa", "type":
"totp", ...}`, kept for as long as the session: `authentication_records` reads them. They are
the session's own, unlike last_login, which the user's sign-in on another device moves.
https://docs.allauth.org/en/latest/account/advanced.html
"""

from datetime import UTC, datetime

from allauth.account.adapter import get_adapter
from allauth.account.authentication import get_authentication_records
from allauth.account.models import EmailAddress
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import render
from django.utils.http import urlencode


def authentication_records(request):
    """allauth's records of what this session's user did to sign in, oldest first."""
    if not request.user.is_authenticated:
        return []
    return [
        record for record in get_authentication_records(request, request.user) if isinstance(record, dict)
    ]


def latest_authentication_time(records):
    """When the latest of allauth's `records` was made: OIDC Core §2 auth_time. None where none
    has a time, as for a session signed in by the shell's login()."""
    times = [record["at"] for record in records if isinstance(record.get("at"), int | float)]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def signed_in_at(request):
    """When this session's user last authenticated (signed in or re-authenticated)."""
    return latest_authentication_time(authentication_records(request))


def reauthentication_url(request, next_url):
    """Where a signed-in user proves again it is them (OIDC Core §3.1.2.1 prompt=login, max_age):
    allauth's re-authentication page for their first method (the password, else a second factor
    or a passkey), then `next_url`. None for a user with no way to."""
    methods = get_adapter(request).get_reauthentication_methods(request.user)
    if not methods:
        return None
    return f"{methods[0]['url']}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"


def ask_to_verify_email(request):
    """The page that says to follow the link just sent to the user's address (403: nothing is
    authorised until then)."""
    address = (
        EmailAddress.objects.filter(user=request.user, verified=False).order_by("-primary", "pk").first()
    )
    if address is not None:
        address.send_confirmation(request)
    return render(request, "account/verified_email_required.html", status=403)
