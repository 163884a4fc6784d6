"""Bake the template once per session and share the results between tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SLUG = "my_authorization_server"
# The .env values the post-generation hook fills with fresh random values.
SECRET_KEYS = (
    "DJANGO_SECRET_KEY",
    "DJANGO_SUPERUSER_PASSWORD",
    "OAUTH_DEMO_CLIENT_ID",
    "OAUTH_DEMO_CLIENT_SECRET",
    "OAUTH_M2M_CLIENT_ID",
    "OAUTH_M2M_CLIENT_SECRET",
)


def bake(output_dir: Path, **context: str) -> Path:
    """Bake without the setup steps (run_setup=n): fast, and the hooks still run."""
    project = cookiecutter(
        str(TEMPLATE_DIR),
        no_input=True,
        output_dir=str(output_dir),
        extra_context={"run_setup": "n", **context},
    )
    return Path(project)


def run(args, cwd, env=None, timeout=600):
    """Run a command; on failure, fail the test with its output."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def project_env(**overrides: str) -> dict[str, str]:
    """The environment a baked project's commands run in, with a generated test signing key."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTH_"))}
    return {**env, **overrides}


def manage(project: Path, *args: str, **env: str):
    return run([sys.executable, "manage.py", *args], cwd=project, env=project_env(**env))


# Option combinations baked once per session. Each one exercises a different part of the
# templating: a custom slug and zone, scopes with punctuation, characters that need escaping.
OPTION_SETS = {
    "defaults": {},
    "custom": {
        "project_name": "Acme Identity",
        "project_slug": "acme_identity",
        "time_zone": "Europe/Paris",
        "domain_name": "login.acme.test",
        "oauth_scopes": "orders:read=See your orders,orders:write=Place orders,profile.avatar=Use your avatar",
        "superuser_username": "root@acme.test",
        "superuser_email": "root@acme.test",
    },
    "awkward_text": {
        "project_name": "Bob's Auth & Co <beta>",
        "project_slug": "bobs_auth",
        "description": "Apostrophes ' and {curly} braces, unicode: é, ü, 東京",
        "author_name": "Zoë O'Brien",
        "oauth_scopes": "api=Use the API on your behalf,reports=See reports you've made",
    },
}


@pytest.fixture(scope="session", params=sorted(OPTION_SETS))
def baked(request, tmp_path_factory):
    """A project baked with run_setup=n for each option set."""
    options = OPTION_SETS[request.param]
    project = bake(tmp_path_factory.mktemp(f"bake-{request.param}"), **options)
    return project, options


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tmp_path_factory.mktemp("keys") / "oidc.key"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path
