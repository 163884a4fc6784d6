"""
The README's quick start, run as a reader would run it: every ```bash block of its "Quick start"
section but the one that sets up and starts the server, in order, in one bash shell
(`-euo pipefail`), from the project folder, against a real `manage.py runserver` on a free port.

The README's http://localhost:8000 becomes that server's address, and `.venv/bin/python` this
interpreter. The server and every `manage.py` command in a block share one SQLite file, a copy of
the migrated test database, and one `.env`: .env.example with fresh secrets, as the setup hook
writes it, whose client ids and secrets the README's `export` line reads. A block followed by
"It prints `...`" must print that, `<NAME>` standing for the value of NAME in that `.env`.
"""

import json
import os
import re
import secrets
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

# pytest-django sets up the test database only when a test asks for it: these copy it.
pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parent.parent
README_URL = "http://localhost:8000"
README_PYTHON = ".venv/bin/python"
# The one block not run: it installs, migrates and starts the server, which the fixture does.
SETUP_BLOCK_MARK = "manage.py runserver"
# What the fixture runs of the setup block, as the setup hook does, in one process.
SETUP_COMMANDS = (
    "from django.core.management import call_command\n"
    "call_command('createsuperuser', interactive=False)\n"
    "call_command('seed_oauth_clients')\n"
)
BLOCK_DONE = "-- quick start block done --"
SERVER_START_SECONDS = 30
# Files of the project folder the test's folder does not share: it has its own .env and database.
NOT_SHARED = {".env", "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"}


def quick_start_blocks():
    """Each ```bash block of the Quick start section, with what the README says it prints."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, re.S | re.M).group(1)
    return re.findall(r"^```bash\n(.*?)^```\n+(?:It prints `([^`\n]*)`)?", section, re.S | re.M)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_example_values():
    values = {}
    for line in (PROJECT_DIR / ".env.example").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            values[name] = value
    return values


def signing_key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def copy_test_database(django_db_blocker, target, environment):
    """The migrated test database in a file: a copy when it is SQLite, else a fresh migrate."""
    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            with sqlite3.connect(target) as copy:
                connection.connection.backup(copy)
            return
    manage(environment, "migrate", "--noinput")


def manage(environment, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=environment["QUICK_START_DIR"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def wait_until_up(origin, server, log):
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{origin}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"runserver did not answer at {origin}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def quick_start_server(tmp_path_factory, django_db_setup, django_db_blocker):
    """A running server and a project folder whose `.env` it reads: (origin, folder, environment)."""
    folder = tmp_path_factory.mktemp("quick-start") / PROJECT_DIR.name
    folder.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if entry.name not in NOT_SHARED:
            (folder / entry.name).symlink_to(entry)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    values = {
        **env_example_values(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(18),
        "OAUTH_DEMO_CLIENT_ID": secrets.token_hex(20),
        "OAUTH_DEMO_CLIENT_SECRET": secrets.token_urlsafe(48),
        "OAUTH_M2M_CLIENT_ID": secrets.token_hex(20),
        "OAUTH_M2M_CLIENT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        "OAUTH_ISSUER": origin,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    (folder / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    # A real variable wins over .env: every value is set, whatever this shell's environment says.
    environment = {
        **os.environ,
        **values,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_ENV_FILE": str(folder / ".env"),
        "OIDC_RSA_PRIVATE_KEY": signing_key_pem(),
        "QUICK_START_DIR": str(folder),
    }
    copy_test_database(django_db_blocker, folder / "db.sqlite3", environment)
    manage(environment, "shell", "-c", SETUP_COMMANDS)
    log = folder.parent / "runserver.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(origin, server, log)
        yield origin, folder, environment
    finally:
        server.terminate()
        server.wait(timeout=10)


def as_run(block, origin):
    return block.replace(README_URL, origin).replace(README_PYTHON, shlex.quote(sys.executable))


def run_bash(script, quick_start_server):
    _, folder, environment = quick_start_server
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_quick_start_block_runs_and_prints_what_the_readme_says(quick_start_server):
    origin, _, environment = quick_start_server
    blocks = quick_start_blocks()
    setup = [block for block, _ in blocks if SETUP_BLOCK_MARK in block]
    assert len(setup) == 1, "the Quick start has one setup block, the one that starts the server"
    to_run = [(block, prints) for block, prints in blocks if SETUP_BLOCK_MARK not in block]
    # At least the export line and the client-credentials example; another section's blocks too.
    assert len(to_run) >= 2 and any("export " in block for block, _ in to_run)
    script = "".join(f"{as_run(block, origin)}echo {shlex.quote(BLOCK_DONE)}\n" for block, _ in to_run)
    result = run_bash(script, quick_start_server)
    outputs = result.stdout.split(BLOCK_DONE + "\n")
    ran = len(outputs) - 1
    assert result.returncode == 0, (
        f"block {ran + 1} of {len(to_run)} failed:\n{to_run[ran][0]}\n{result.stdout}\n{result.stderr}"
    )
    assert ran == len(to_run) and outputs[-1] == ""
    assert "Traceback" not in result.stderr, result.stderr
    checked = 0
    for (block, prints), output in zip(to_run, outputs, strict=False):
        if not prints:
            continue
        wanted = re.sub(r"<([A-Z0-9_]+)>", lambda name: environment[name.group(1)], prints)
        try:
            assert json.loads(output) == json.loads(wanted), block
        except json.JSONDecodeError:
            assert wanted in output, block
        checked += 1
    # The client-credentials example says what /api/me/ answers: its client and its scope.
    assert checked >= 1


def test_a_refused_token_request_says_why_in_one_line(quick_start_server):
    origin, _, _ = quick_start_server
    blocks = [block for block, _ in quick_start_blocks()]
    export = next(block for block in blocks if "export " in block)
    token_block = next(block for block in blocks if "/o/token/" in block)
    first_scope = env_example_values()["OAUTH_SCOPES"].split(",")[0].split("=")[0].strip()
    assert f"scope={first_scope}" in token_block
    refused = token_block.replace(f"scope={first_scope}", "scope=no-such-scope")
    result = run_bash(as_run(export + refused, origin), quick_start_server)
    assert result.returncode != 0
    assert result.stderr.startswith("token request refused: invalid_scope"), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    # It stopped there: /api/me/ was never asked with an empty token.
    assert result.stdout == ""
