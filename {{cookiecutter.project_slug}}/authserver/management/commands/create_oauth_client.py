# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Register one OAuth client from flags: how a server gets its real clients (docs/deploy.md, step 8).

The client_id and secret are generated and printed once; the secret is stored hashed. Exits
non-zero, creating nothing, when the client would be invalid, e.g. an http redirect URI under
production settings (DOT's own `createapplication` exits 0 then).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model

Application = get_application_model()

GRANTS = {
    "authorization-code": Application.GRANT_AUTHORIZATION_CODE,
    "client-credentials": Application.GRANT_CLIENT_CREDENTIALS,
    "device-code": Application.GRANT_DEVICE_CODE,
}


class Command(BaseCommand):
    help = "Create an OAuth client; print its client_id and client secret (shown this once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the consent page and the admin call it.")
        parser.add_argument("--grant", required=True, choices=sorted(GRANTS))
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            help="Where codes go back to (authorization-code); https under production settings. Repeatable.",
        )
        parser.add_argument(
            "--post-logout-redirect-uri",
            action="append",
            default=[],
            dest="post_logout_redirect_uris",
            help="Where RP-initiated logout may return to. Repeatable.",
        )
        parser.add_argument(
            "--public",
            action="store_true",
            help="A client that cannot keep a secret (a mobile or single-page app, a device): no secret.",
        )

    def handle(self, *args, name, grant, redirect_uris, post_logout_redirect_uris, public, **options):
        if public and grant == "client-credentials":
            raise CommandError(
                "A client-credentials client authenticates with its secret: it cannot be public."
            )
        secret = "" if public else generate_client_secret()
        application = Application(
            name=name,
            client_id=generate_client_id(),
            client_secret=secret,
            client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=GRANTS[grant],
            redirect_uris=" ".join(redirect_uris),
            post_logout_redirect_uris=" ".join(post_logout_redirect_uris),
            # ID tokens for `openid` are signed with the server's RSA key.
            algorithm=Application.RS256_ALGORITHM
            if grant == "authorization-code"
            else Application.NO_ALGORITHM,
        )
        try:
            application.full_clean()
        except ValidationError as error:
            raise CommandError(
                f"Client {name!r} is invalid, nothing created: {error.message_dict}"
            ) from error
        application.save()
        self.stdout.write(f"created: {name} ({grant}, {application.client_type})")
        self.stdout.write(f"client_id={application.client_id}")
        if secret:
            self.stdout.write(f"client_secret={secret}")
            self.stdout.write("Keep the secret now: it is stored hashed and cannot be shown again.")
