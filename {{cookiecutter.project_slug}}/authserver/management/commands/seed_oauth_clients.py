# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Create or update the OAuth clients described in the environment (.env).

Idempotent: running it again changes nothing; change a value in .env and run it
again to update the client. `--no-demo` leaves the demo web client out; so do settings
that refuse its redirect URI's scheme (production: https only). For a client of your own,
see create_oauth_client.
"""

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

Application = get_application_model()


@dataclass(frozen=True)
class ClientSpec:
    name: str
    client_id: str
    client_secret: str
    authorization_grant_type: str
    redirect_uris: str = ""
    post_logout_redirect_uris: str = ""
    algorithm: str = Application.NO_ALGORITHM
    allowed_scopes: str = ""
    is_resource_server: bool = False
    always_ask_consent: bool = False


def required_env(name):
    # Settings have already loaded .env into os.environ; a real variable wins.
    value = os.environ.get(name, "").strip()
    if not value:
        raise CommandError(
            f"{name} is not set. Set it in .env (see .env.example), or on a server in the file "
            "DJANGO_ENV_FILE names."
        )
    return value


def allowed_scopes_env(name, default):
    """A comma-separated list of scopes, stored space-separated; unset or empty: `default`."""
    names = [scope.strip() for scope in os.environ.get(name, "").split(",") if scope.strip()]
    return " ".join(names or default)


def demo_redirect_uris():
    """
    OAUTH_DEMO_REDIRECT_URI, and the demo's own callback on the issuer: /demo/ runs there
    (http://localhost:8000 locally, where passkeys work too), while the loopback address
    http://127.0.0.1/demo/callback/ matches the demo on 127.0.0.1 at any port (RFC 8252 §7.3).
    """
    uris = [required_env("OAUTH_DEMO_REDIRECT_URI")]
    if settings.OAUTH_ISSUER:
        issuer_callback = settings.OAUTH_ISSUER.rstrip("/") + reverse("demo-callback")
        if issuer_callback not in uris:
            uris.append(issuer_callback)
    return " ".join(uris)


def demo_client_spec():
    demo_redirect_uri = demo_redirect_uris()
    return ClientSpec(
        name=f"{settings.PROJECT_NAME} demo web app",
        client_id=required_env("OAUTH_DEMO_CLIENT_ID"),
        client_secret=required_env("OAUTH_DEMO_CLIENT_SECRET"),
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=demo_redirect_uri,
        post_logout_redirect_uris=demo_redirect_uri,
        # ID tokens for `openid` are signed with the server's RSA key.
        algorithm=Application.RS256_ALGORITHM,
        allowed_scopes=allowed_scopes_env("OAUTH_DEMO_ALLOWED_SCOPES", settings.OAUTH_SCOPES),
        # The demo shows the consent page every time, remembered consent or not.
        always_ask_consent=True,
    )


def machine_client_spec():
    return ClientSpec(
        name=f"{settings.PROJECT_NAME} machine-to-machine client",
        client_id=required_env("OAUTH_M2M_CLIENT_ID"),
        client_secret=required_env("OAUTH_M2M_CLIENT_SECRET"),
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        # Client credentials never get the scopes that describe a user (validator.py).
        allowed_scopes=allowed_scopes_env("OAUTH_M2M_ALLOWED_SCOPES", settings.OAUTH_APP_SCOPES),
        # The example resource server too: a backend service that introspects the tokens
        # sent to it (RFC 7662), for every resource.
        is_resource_server=True,
    )


def refused_scheme(uri):
    """Whether these settings refuse the scheme of a URI (production: anything but https)."""
    scheme = urlsplit(uri).scheme
    return bool(scheme) and scheme not in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES


def apply_spec(spec):
    """Bring one client in line with its spec; return "created", "updated" or "unchanged"."""
    application = Application.objects.filter(client_id=spec.client_id).first()
    created = application is None
    if created:
        application = Application(client_id=spec.client_id)
    wanted = {
        "name": spec.name,
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": spec.authorization_grant_type,
        "redirect_uris": spec.redirect_uris,
        "post_logout_redirect_uris": spec.post_logout_redirect_uris,
        "algorithm": spec.algorithm,
        "skip_authorization": False,
        "allowed_scopes": spec.allowed_scopes,
        "is_resource_server": spec.is_resource_server,
        "always_ask_consent": spec.always_ask_consent,
    }
    changed = [field for field, value in wanted.items() if getattr(application, field) != value]
    for field in changed:
        setattr(application, field, wanted[field])
    # The stored secret is hashed: compare, and only re-hash when it really changed.
    if created or not check_password(spec.client_secret, application.client_secret):
        application.client_secret = spec.client_secret
        changed.append("client_secret")
    if not created and not changed:
        return "unchanged"
    application.full_clean()
    application.save()
    return "created" if created else "updated"


class Command(BaseCommand):
    help = "Create or update the demo and machine-to-machine OAuth clients from the environment."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-demo",
            dest="demo",
            action="store_false",
            help="Only the machine-to-machine client: no demo web client (production).",
        )

    def handle(self, *args, demo, **options):
        specs = [machine_client_spec()]
        if demo:
            demo_spec = demo_client_spec()
            if not any(refused_scheme(uri) for uri in demo_spec.redirect_uris.split()):
                specs.insert(0, demo_spec)
            else:
                schemes = ", ".join(oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES)
                self.stdout.write(
                    f"skipped: {demo_spec.name}: these settings allow redirect URIs of {schemes} only, "
                    f"not OAUTH_DEMO_REDIRECT_URI={required_env('OAUTH_DEMO_REDIRECT_URI')}. Pass --no-demo to say so, "
                    "or create a client of your own with create_oauth_client."
                )
        with transaction.atomic():
            for spec in specs:
                try:
                    outcome = apply_spec(spec)
                except ValidationError as error:
                    message = f"Client {spec.client_id!r} is invalid: {error.message_dict}"
                    raise CommandError(message) from error
                self.stdout.write(f"{outcome}: {spec.name} (client_id {spec.client_id})")
