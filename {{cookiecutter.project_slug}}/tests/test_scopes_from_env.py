"""Scopes come from OAUTH_SCOPES: changing .env and restarting is all it takes."""

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter, as a restarted server would.
PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
document = Client().get("/.well-known/openid-configuration").json()
print(json.dumps(document["scopes_supported"]))
"""


def scopes_after_restart(**environment):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_ENV_FILE": os.devnull,
            # Discovery reads no table, but every request opens a transaction (ATOMIC_REQUESTS).
            "DATABASE_URL": "sqlite://:memory:",
            "DJANGO_SECRET_KEY": "scopes-probe-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            **environment,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_changing_oauth_scopes_changes_what_is_offered():
    scopes = scopes_after_restart(OAUTH_SCOPES="orders:read=See your orders,orders:write=Place orders")
    assert scopes == {"openid", "profile", "email", "orders:read", "orders:write"}


def test_spaces_around_names_are_ignored():
    scopes = scopes_after_restart(OAUTH_SCOPES="alpha=First, beta = Second", OAUTH_DEFAULT_SCOPES="alpha")
    assert scopes == {"openid", "profile", "email", "alpha", "beta"}
