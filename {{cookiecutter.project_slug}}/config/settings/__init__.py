"""
The settings modules: `local` (runserver), `test` (pytest) and `production`, each on top of `base`.

Every deploy-time value comes from the environment. Before `base` reads it, the chosen module
loads one env file into the environment, a real variable always winning over the file: local
and test settings read `.env` in the project folder, production settings only the file that
DJANGO_ENV_FILE names (a development `.env` must never decide how a server runs).
https://django-environ.readthedocs.io/en/latest/tips.html#multiple-env-files
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def load_env_file(default: Path | None = None) -> None:
    """Load the file DJANGO_ENV_FILE names, else `default` if it exists, into os.environ."""
    named = os.environ.get("DJANGO_ENV_FILE")
    if named:
        path = Path(named)
        if not path.exists():
            raise ImproperlyConfigured(f"DJANGO_ENV_FILE names {path}, which does not exist.")
    elif default is not None and default.is_file():
        path = default
    else:
        return
    environ.Env.read_env(path, overwrite=False)
