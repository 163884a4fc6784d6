# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Register a resource server (an API, an MCP server) in one step (docs/mcp.md, docs/api.md): its
URL becomes a resource clients may ask tokens for (RFC 8707, resources.py), and it gets the
credentials to introspect them (RFC 7662, introspection.py), learning about the tokens bound to
that URL and to no other resource. Both live on one client in the database, which the admin
shows and edits (Is resource server, Resource URIs).

Prints the settings the resource server needs, the secret once (stored hashed). Exits non-zero,
creating nothing, on a URL that is not a resource indicator these settings accept, or that
another resource server already serves.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model

from ... import client_settings
from .create_oauth_client import ExamplesHelpFormatter

Application = get_application_model()

EXAMPLES = """\
examples:
  An MCP server:
    python manage.py create_resource_server --name "Orders MCP" --url https://mcp.example.com/mcp

  An API:
    python manage.py create_resource_server --name "Orders API" --url https://api.example.com/
"""


class Command(BaseCommand):
    help = (
        "Register a resource server (an API, an MCP server): its URL becomes a resource tokens may be "
        "bound to, and it gets introspection credentials for them. Prints its settings, the secret once."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", ExamplesHelpFormatter)
        kwargs.setdefault("epilog", EXAMPLES)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the admin calls it.")
        parser.add_argument(
            "--url",
            required=True,
            help="Its resource indicator (RFC 8707): the absolute https URL clients name with `resource` "
            "(http on a loopback address under local settings only), no fragment.",
        )

    def handle(self, *args, name, url, **options):
        resource = url
        secret = generate_client_secret()
        application = Application(
            name=name,
            client_id=generate_client_id(),
            client_secret=secret,
            client_type=Application.CLIENT_CONFIDENTIAL,
            is_resource_server=True,
            resource_uris=resource,
            # It needs its credentials, not tokens: introspection authenticates the client
            # (RFC 7662 §2.1), and a client needs some grant. Client credentials has no redirect
            # URI and no user, and the only scope allowed, openid, is never granted to it
            # (validator.py): the token endpoint refuses it every scope, so it obtains no token.
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            allowed_scopes="openid",
            algorithm=Application.NO_ALGORITHM,
        )
        try:
            application.full_clean()
        except ValidationError as error:
            problems = " ".join(message for messages in error.message_dict.values() for message in messages)
            raise CommandError(f"Resource server {name!r} not created: {problems}") from error
        application.save()
        self.stdout.write(f"created: {name} (resource server for {resource})")
        self.stdout.write(
            f"Clients ask for tokens for it with resource={resource}; with these credentials it learns "
            "at the introspection endpoint about those tokens, and about no token bound to another resource."
        )
        self.stdout.write("Paste into the resource server's settings:")
        pairs = [
            ("issuer", client_settings.issuer()),
            ("authorization_server_metadata", client_settings.url("oauth-server-metadata")),
            ("introspection_endpoint", client_settings.url("introspect")),
            ("client_id", application.client_id),
            ("client_secret", secret),
            ("resource", resource),
        ]
        self.stdout.write("\n".join(client_settings.settings_lines(pairs)))
        self.stdout.write("Keep the secret now: it is stored hashed and cannot be shown again.")
