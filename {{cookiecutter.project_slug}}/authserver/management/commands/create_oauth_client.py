# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Register one OAuth client from flags: how a server gets its real clients (docs/clients.md,
docs/deploy.md step 8).

The client_id and secret are generated and printed once, with the other settings the client
needs (client_settings.py); the secret is stored hashed. Exits non-zero, creating nothing, when
the client would be invalid, e.g. an http redirect URI under production settings or a scope the
server does not offer (DOT's own `createapplication` exits 0 then).
"""

from argparse import RawDescriptionHelpFormatter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model
from oauth2_provider.scopes import get_scopes_backend

from ... import client_settings

Application = get_application_model()

GRANTS = {
    "authorization-code": Application.GRANT_AUTHORIZATION_CODE,
    "client-credentials": Application.GRANT_CLIENT_CREDENTIALS,
    "device-code": Application.GRANT_DEVICE_CODE,
}

# The endpoints each kind of client calls, besides discovery, as (metadata name, route name).
ENDPOINTS = {
    "authorization-code": [("authorization_endpoint", "authorize"), ("token_endpoint", "token")],
    "client-credentials": [("token_endpoint", "token")],
    "device-code": [("device_authorization_endpoint", "device-authorization"), ("token_endpoint", "token")],
}


class ExamplesHelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's help layout, with the examples after the options kept as written."""


def examples():
    """--help's examples, one for each kind of client, with this server's own first scope."""
    scope = next(iter(settings.OAUTH_APP_SCOPES), "")
    return f"""\
examples:
  A web app (confidential: it keeps a secret on its server; authorization code with PKCE):
    python manage.py create_oauth_client --name "Shop" --grant authorization-code \\
      --redirect-uri https://shop.example.com/callback --scope "openid profile email {scope}"

  A single-page app (public: no secret; authorization code with PKCE):
    python manage.py create_oauth_client --name "Shop SPA" --grant authorization-code --public \\
      --redirect-uri https://shop.example.com/spa/callback --scope "openid {scope}"

  A command-line tool (public; it listens on a loopback redirect, any port: RFC 8252 §7.3; http
  redirect URIs need local settings, production allows https only):
    python manage.py create_oauth_client --name "Shop CLI" --grant authorization-code --public \\
      --redirect-uri http://127.0.0.1/callback --scope "openid {scope}"

  A device without a browser or keyboard (public; device authorization grant, RFC 8628):
    python manage.py create_oauth_client --name "Shop TV" --grant device-code --public --scope "openid {scope}"

  A backend service acting for itself, no user (client credentials):
    python manage.py create_oauth_client --name "Reports" --grant client-credentials --scope {scope}
"""


def scopes_from(values):
    """--scope's values, each one or several space-separated scopes, in order, once each."""
    return list(dict.fromkeys(scope for value in values for scope in value.split()))


class Command(BaseCommand):
    help = (
        "Create an OAuth client; print its client_id, its client secret (shown this once) and the "
        "other settings to paste into the client."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", ExamplesHelpFormatter)
        kwargs.setdefault("epilog", examples())
        return super().create_parser(prog_name, subcommand, **kwargs)

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
            help="A client that cannot keep a secret (a mobile or single-page app, a CLI, a device): no secret.",
        )
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            help="A scope the client may be granted, or several separated by spaces. Repeatable. "
            "Without it, only the default scopes (OAUTH_DEFAULT_SCOPES).",
        )
        parser.add_argument(
            "--skip-consent",
            action="store_true",
            help="No consent page for this client: a first-party confidential web app you trust. "
            "Refused for a public client (RFC 8252 §8.6).",
        )

    def handle(self, *args, name, grant, redirect_uris, post_logout_redirect_uris, public, **options):
        scopes = scopes_from(options["scopes"])
        skip_consent = options["skip_consent"]
        self.check_choices(grant, public, scopes, skip_consent)
        secret = "" if public else generate_client_secret()
        application = Application(
            name=name,
            client_id=generate_client_id(),
            client_secret=secret,
            client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=GRANTS[grant],
            redirect_uris=" ".join(redirect_uris),
            post_logout_redirect_uris=" ".join(post_logout_redirect_uris),
            allowed_scopes=" ".join(scopes),
            skip_authorization=skip_consent,
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
        self.report_scopes(application, grant, scopes)
        if skip_consent:
            self.stdout.write("Its users see no consent page: they allow it by signing in.")
        self.stdout.write("Paste into the client's settings:")
        self.stdout.write(
            "\n".join(client_settings.settings_lines(self.settings_for(application, grant, secret)))
        )
        if secret:
            self.stdout.write("Keep the secret now: it is stored hashed and cannot be shown again.")

    def check_choices(self, grant, public, scopes, skip_consent):
        """Refuse, before anything is created, what would make a client that cannot work or should not exist."""
        if public and grant == "client-credentials":
            raise CommandError(
                "A client-credentials client authenticates with its secret: it cannot be public."
            )
        offered = list(get_scopes_backend().get_all_scopes())
        unknown = [scope for scope in scopes if scope not in offered]
        if unknown:
            raise CommandError(
                f"Unknown scope {' '.join(unknown)}: this server offers {' '.join(offered)} "
                "(OAUTH_SCOPES, and OpenID Connect's). Nothing created."
            )
        about_users = [scope for scope in scopes if scope in settings.OIDC_SCOPES]
        if grant == "client-credentials" and about_users:
            raise CommandError(
                f"A client-credentials client acts for no user, so it never gets {' '.join(about_users)} "
                "(the scopes that describe a user). Nothing created."
            )
        if skip_consent and public:
            raise CommandError(
                "--skip-consent is refused for a public client: anyone can use its client_id, so this "
                "server cannot be sure which app is asking, and should not issue tokens without asking "
                "the user (RFC 8252 §8.6). Nothing created."
            )
        if skip_consent and grant != "authorization-code":
            raise CommandError(
                "--skip-consent is for an authorization-code client: the others have no consent page to "
                "skip (a device's user always confirms its code). Nothing created."
            )

    def report_scopes(self, application, grant, scopes):
        granted = self.grantable(application, grant)
        if scopes:
            self.stdout.write(f"It may be granted: {' '.join(granted)}.")
        else:
            self.stdout.write(
                f"It may be granted only the default scopes (OAUTH_DEFAULT_SCOPES): {' '.join(granted)}. "
                "Pass --scope to allow others (this server offers "
                f"{' '.join(get_scopes_backend().get_all_scopes())}), or set Allowed scopes in the admin."
            )

    def grantable(self, application, grant):
        """The scopes the client may be granted, in the order the server offers them (validator.py)."""
        allowed = application.allowed_scope_set()
        if grant == "client-credentials":
            allowed -= set(settings.OIDC_SCOPES)
        ordered = [scope for scope in get_scopes_backend().get_all_scopes() if scope in allowed]
        return ordered + sorted(allowed - set(ordered))

    def settings_for(self, application, grant, secret):
        """(key, value) pairs the client is configured with: where the server is, who the client
        is, where codes come back, and the scope to ask for."""
        pairs = [
            ("issuer", client_settings.issuer()),
            ("discovery_url", client_settings.url("oidc-connect-discovery-info")),
        ]
        pairs += [(key, client_settings.url(route)) for key, route in ENDPOINTS[grant]]
        pairs.append(("client_id", application.client_id))
        if secret:
            pairs.append(("client_secret", secret))
        if application.redirect_uris:
            pairs.append(("redirect_uris", application.redirect_uris))
        pairs.append(("scope", " ".join(self.grantable(application, grant))))
        return pairs
