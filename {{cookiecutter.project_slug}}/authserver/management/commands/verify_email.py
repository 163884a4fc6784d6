# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""`manage.py verify_email [username]`: the user's e-mail address, as verified and primary."""

import os

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Record a user's e-mail address (its User.email) as verified and primary, so that password "
        "resets reach it: for an account an administrator created and vouches for. Without a "
        "username, the admin user of DJANGO_SUPERUSER_USERNAME (the setup runs it after createsuperuser)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")

    def handle(self, *args, username=None, **options):
        named = username is not None
        username = username if named else os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is named {username!r}.")
        if not user.email:
            if named:
                raise CommandError(
                    f"{username!r} has no e-mail address: set one first (admin, or the shell)."
                )
            self.stdout.write(f"{username} has no e-mail address: password resets cannot reach it.")
            return
        address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first() or EmailAddress(
            user=user, email=user.email
        )
        address.verified = True
        address.save()
        address.set_as_primary()
        self.stdout.write(f"{user.email} is the verified, primary e-mail address of {username}.")
