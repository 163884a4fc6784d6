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
        # allauth keeps and looks addresses up lowercased (its unique-verified constraint, password
        # resets, the e-mail page): an address kept as typed would be missed by each, and could be
        # verified a second time, by another account, in other letters.
        email = user.email.lower()
        if EmailAddress.objects.filter(email__iexact=email, verified=True).exclude(user=user).exists():
            raise CommandError(f"{email} is the verified address of another account.")
        # The same address of this user in other letters, as an earlier run recorded it, makes way.
        EmailAddress.objects.filter(user=user, email__iexact=email).exclude(email=email).delete()
        address, _ = EmailAddress.objects.get_or_create(user=user, email=email)
        address.verified = True
        address.save()
        # The user's e-mail address (User.email) becomes the lowercased one too.
        address.set_as_primary()
        self.stdout.write(f"{user.email} is the verified, primary e-mail address of {username}.")
