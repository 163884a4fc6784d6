"""The container image's build (Dockerfile, .dockerignore): it must keep working as the settings change."""

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCKERFILE = (PROJECT_DIR / "Dockerfile").read_text()


def build_time_placeholders():
    """The variables the Dockerfile sets for collectstatic alone."""
    (step,) = re.findall(
        r"^RUN (DJANGO_SETTINGS_MODULE=.*?manage\.py collectstatic)", DOCKERFILE, re.M | re.S
    )
    return dict(re.findall(r"(\w+)=(\S+) \\$", step, re.M))


def test_collectstatic_at_build_time_needs_no_secret_and_no_database():
    placeholders = build_time_placeholders()
    assert placeholders["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # As in the build: no .env (.dockerignore), no key, nothing else from the environment.
    env = {"PATH": os.environ["PATH"], "DJANGO_ENV_FILE": os.devnull, **placeholders}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--dry-run"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # The placeholders are set on the RUN line only, never in the image's environment.
    image_environment = "".join(re.findall(r"^ENV .*?(?<!\\)$", DOCKERFILE, re.M | re.S))
    assert not set(placeholders) - {"DJANGO_SETTINGS_MODULE"} & set(re.findall(r"(\w+)=", image_environment))


NEVER_IN_THE_BUILD = {
    ".env",
    "keys/",
    "*.key",
    "*.pem",
    "secrets/",
    "compose.env",
    ".venv/",
    "db.sqlite3",
    ".git/",
}


def test_secrets_and_local_state_stay_out_of_the_build_context():
    assert set((PROJECT_DIR / ".dockerignore").read_text().splitlines()) >= NEVER_IN_THE_BUILD


def test_the_server_in_the_image_listens_on_every_interface_on_port():
    (command,) = re.findall(r"^CMD (.*)$", DOCKERFILE, re.M)
    assert "--config gunicorn.conf.py" in command and '--bind \\"0.0.0.0:${PORT}\\"' in command
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert "/healthz" in re.search(r"^HEALTHCHECK .*?\]$", DOCKERFILE, re.M | re.S).group()
