"""
What the template's tests share besides fixtures: bakes, commands, servers and databases. Import
what you need (`from .support import bake, run`); the fixtures are in conftest.py, the helpers of
the tests that drive a live server from outside in live.py and oauth_helpers.py.
"""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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
    """A manage.py command of a run_setup=n bake, in the template's environment."""
    return run([sys.executable, "manage.py", *args], cwd=project, env=project_env(**env))


def venv_manage(project, *args, **env):
    """A manage.py command in the baked project's own virtualenv."""
    return run([str(project / ".venv/bin/python"), "manage.py", *args], cwd=project, env=project_env(**env))


def read_env_values(project):
    """The baked project's .env as a dict."""
    lines = (project / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# RFC 8707: the resources a live server binds tokens to (OAUTH_RESOURCES): its sample /api/me/ and
# the API the policy tests name.
LIVE_API_RESOURCE = "https://api.example.com/"


def live_resources(base_url, *more):
    return ",".join([f"{base_url}/api/me/", LIVE_API_RESOURCE, *more])


@contextlib.contextmanager
def running_server(project, command, base_url, output=None, **env):
    """Run a server command of the baked project until the block ends; wait for /healthz first.

    The issuer is `base_url` unless `env` pins another OAUTH_ISSUER; the known resources
    `live_resources(base_url)` unless it names others. What the server prints goes
    to the file `output` when given (to read its logs), else nowhere.
    """
    with open(output, "w+b") if output else tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            command,
            cwd=project,
            # gunicorn's workers stop at once, not after draining (tests/test_faults.py drains).
            env=project_env(
                **{
                    "OAUTH_ISSUER": base_url,
                    "OAUTH_RESOURCES": live_resources(base_url),
                    "GUNICORN_DRAIN_SECONDS": "0",
                    **env,
                }
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_health(base_url, server, log)
            yield base_url
        finally:
            server.terminate()
            server.wait(timeout=10)


def wait_for_health(base_url, server, log, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                assert json.load(response)["status"] == "ok"
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # TimeoutError: a worker still booting
            if time.monotonic() > deadline or server.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")[-4000:]
                pytest.fail(f"{server.args} did not answer /healthz within {seconds} s:\n{output}")
            time.sleep(0.2)


def runserver_command(project, port):
    return [str(project / ".venv/bin/python"), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def postgres_admin():
    """A connection to the PostgreSQL server's maintenance database; skips loudly without a server."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"SKIPPED LOUDLY: no PostgreSQL server answers at {POSTGRES_ADMIN_URL}: {error}")


def postgres_url(name):
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def fresh_postgres_database(purpose):
    """A new, empty PostgreSQL database until the block ends; yields its URL."""
    name = f"oauth_{purpose}_{os.getpid()}_{secrets.token_hex(4)}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield postgres_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
