"""
django-allauth 65's OpenID Connect provider (allauth.idp.oidc, the `idp-oidc` extra), in a minimal
Django project written here, on a fresh PostgreSQL database (dropped after), under gunicorn
2 processes x 4 gthread threads (no access log, keep-alive 5 s as ours), in its own throwaway
virtualenv (`uv venv` + `uv pip install`, pinned below).

- Its token endpoint (/identity/o/api/token) with client credentials, a confidential client
  allowed the `client_credentials` grant and the `read` scope; 3600 s opaque tokens.
- Its RFC 7662 introspection (/identity/o/api/introspect; IDP_OIDC_INTROSPECTION_ENABLED), called
  by a second client, a resource server (IDP_OIDC_INTROSPECTION_CROSS_CLIENT_ALLOWED).
- A bearer-protected JSON view making allauth's own token check: oauthlib's verify_request through
  allauth's server and request validator, then the token's resources, as allauth's Django REST
  framework TokenAuthentication does (without Django REST framework around it).
- Its rate limits are off (IDP_OIDC_RATE_LIMITS = False): introspection's default, 30 a minute
  per IP, would answer 429 to a benchmark; ours has none on these endpoints either.

Client secrets: allauth stores them with Django's make_password and checks them with
check_password, so PASSWORD_HASHERS decides. hasher="default": Django's default, PBKDF2 (about a
million iterations, on every client authentication). hasher="ours": the baked project's
authserver/hashers.py (a salted SHA-256, registered last so that no password ever uses it) and the
secrets stored with it, as the project's CLIENT_SECRET_HASHER makes DOT do.
"""

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import urllib.parse

import psycopg
import throughput
from harness import free_port

from peers import Target
from peers.validation import validated_requests

PACKAGES = [
    "django>=5.2.8,<5.3",
    "django-allauth[idp-oidc]>=65.22,<66",
    # allauth.idp.oidc imports it, but its idp-oidc extra does not ask for it.
    "requests>=2.32,<3",
    "psycopg[binary]>=3.2.1,<4",
    "gunicorn>=23,<28",
]
WORKERS, THREADS = 2, 4
OUR_HASHER = throughput.TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "authserver" / "hashers.py"
HASHER_TITLES = {"default": "default hasher (PBKDF2)", "ours": "our hasher (salted SHA-256)"}

PROJECT_FILES = {
    "allauth_peer/__init__.py": "",
    "allauth_peer/settings.py": """
        import os
        from pathlib import Path

        SECRET_KEY = os.environ["ALLAUTH_PEER_SECRET_KEY"]
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1"]
        INSTALLED_APPS = [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "allauth",
            "allauth.account",
            "allauth.idp.oidc",
        ]
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "allauth.account.middleware.AccountMiddleware",
        ]
        AUTHENTICATION_BACKENDS = [
            "django.contrib.auth.backends.ModelBackend",
            "allauth.account.auth_backends.AuthenticationBackend",
        ]
        ROOT_URLCONF = "allauth_peer.urls"
        TEMPLATES = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ]
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.environ["ALLAUTH_PEER_DATABASE"],
                "USER": os.environ["ALLAUTH_PEER_DATABASE_USER"],
                "HOST": os.environ["ALLAUTH_PEER_DATABASE_HOST"],
                "PORT": os.environ["ALLAUTH_PEER_DATABASE_PORT"],
                # Persistent connections, as ours.
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        }
        USE_TZ = True
        STATIC_URL = "static/"
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        ]
        if os.environ["ALLAUTH_PEER_HASHER"] == "ours":
            PASSWORD_HASHERS.append("allauth_peer.hashers.ClientSecretHasher")
        private_key = Path(__file__).resolve().parent.parent / "private_key.pem"
        IDP_OIDC_PRIVATE_KEY = private_key.read_text() if private_key.exists() else ""
        IDP_OIDC_ACCESS_TOKEN_EXPIRES_IN = 3600
        IDP_OIDC_INTROSPECTION_ENABLED = True
        IDP_OIDC_INTROSPECTION_CROSS_CLIENT_ALLOWED = True
        IDP_OIDC_RATE_LIMITS = False
    """,
    "allauth_peer/urls.py": """
        from django.urls import include, path

        from allauth_peer.views import me

        urlpatterns = [path("", include("allauth.idp.urls")), path("api/me/", me)]
    """,
    "allauth_peer/views.py": """
        from django.http import JsonResponse

        from allauth.idp.oidc.internal.oauthlib.server import get_server
        from allauth.idp.oidc.internal.oauthlib.utils import extract_params, get_validator_context
        from allauth.idp.oidc.internal.resources import is_resources_subset


        def me(request):
            \"\"\"A bearer-protected JSON view: allauth's own token check (its TokenAuthentication's).\"\"\"
            valid, _ = get_server().verify_request(*extract_params(request), scopes=["read"])
            if not valid:
                return JsonResponse(
                    {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
                )
            token = get_validator_context().access_token
            if not is_resources_subset([request.build_absolute_uri(request.path)], token.get_resources()):
                return JsonResponse({"error": "invalid_target"}, status=403)
            return JsonResponse({"client_id": token.client_id, "scope": " ".join(token.get_scopes())})
    """,
    "allauth_peer/wsgi.py": """
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
    """,
    # The signing key, the tables, and two clients; prints their credentials as JSON.
    "setup_peer.py": """
        import json
        import os
        import secrets
        from pathlib import Path

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        Path("private_key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

        import django

        django.setup()
        from allauth.idp.oidc.models import Client
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        hasher = "client_secret_sha256" if os.environ["ALLAUTH_PEER_HASHER"] == "ours" else "default"
        credentials = {}
        for name in ("m2m", "resource-server"):
            secret = secrets.token_urlsafe(48)
            Client.objects.create(
                id=name,
                name=name,
                secret=make_password(secret, hasher=hasher),
                type=Client.Type.CONFIDENTIAL,
                grant_types=Client.GrantType.CLIENT_CREDENTIALS,
                scopes="read",
                response_types="",
            )
            credentials[name] = secret
        print(json.dumps(credentials))
    """,
}


def virtualenv(work_dir):
    """allauth's own virtualenv under work_dir, made once for both variants."""
    venv = work_dir / "allauth-venv"
    if not (venv / "bin" / "gunicorn").exists():
        uv = shutil.which("uv")
        if not uv:
            raise RuntimeError("uv is not on PATH: it makes django-allauth's virtualenv")
        subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", f"--python={venv / 'bin' / 'python'}", *PACKAGES], check=True
        )
    return venv


def write_project(work_dir, hasher):
    root = work_dir / f"allauth-{hasher}-hasher"
    throughput.write_files(root, PROJECT_FILES)
    if hasher == "ours":
        shutil.copy(OUR_HASHER, root / "allauth_peer" / "hashers.py")
    return root


@contextlib.contextmanager
def fresh_database():
    """A new PostgreSQL database on 127.0.0.1:5432 until the block ends; yields its name."""
    name = f"allauth_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(throughput.POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def project_env(database_name, hasher):
    admin = urllib.parse.urlsplit(throughput.POSTGRES_ADMIN_URL)
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV", "PYTHON"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "allauth_peer.settings",
        "ALLAUTH_PEER_SECRET_KEY": secrets.token_urlsafe(50),
        "ALLAUTH_PEER_DATABASE": database_name,
        "ALLAUTH_PEER_DATABASE_USER": admin.username or "postgres",
        "ALLAUTH_PEER_DATABASE_HOST": admin.hostname or "127.0.0.1",
        "ALLAUTH_PEER_DATABASE_PORT": str(admin.port or 5432),
        "ALLAUTH_PEER_HASHER": hasher,
    }


def gunicorn_command(venv, port):
    return [
        str(venv / "bin" / "gunicorn"),
        f"--workers={WORKERS}",
        "--worker-class=gthread",
        f"--threads={THREADS}",
        "--keep-alive=5",
        f"--bind=127.0.0.1:{port}",
        "allauth_peer.wsgi",
    ]


@contextlib.contextmanager
def start(bench, work_dir, database, hasher="default"):
    if database != "postgresql":
        raise ValueError(f"allauth's provider runs on postgresql here, not {database!r}")
    if hasher not in HASHER_TITLES:
        raise ValueError(f"hasher is 'default' or 'ours', not {hasher!r}")
    venv = virtualenv(work_dir)
    root = write_project(work_dir, hasher)
    with fresh_database() as database_name:
        env = project_env(database_name, hasher)
        setup = subprocess.run(
            [str(venv / "bin" / "python"), "setup_peer.py"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        credentials = json.loads(setup.stdout.splitlines()[-1])
        port = free_port()
        name = f"django-allauth 65 OIDC provider ({WORKERS} workers x {THREADS} threads, PostgreSQL), {HASHER_TITLES[hasher]}"
        with throughput.Server(name, gunicorn_command(venv, port), root, env, "/api/me/", port) as server:
            paths = {
                "token": "/identity/o/api/token",
                "introspection": "/identity/o/api/introspect",
                "resource": "/api/me/",
            }
            requests = validated_requests(
                server,
                paths,
                ("m2m", credentials["m2m"]),
                ("resource-server", credentials["resource-server"]),
            )
            yield Target(name, f"allauth-{hasher}-hasher", database, server, requests)
