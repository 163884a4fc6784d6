"""
How should the workers hold their PostgreSQL connections? Measured, not guessed.

    uv run --extra test --extra bench python benchmarks/db_connections.py [--rounds 3] [--seconds 4]
        [--database-latency-ms 1]

Bakes the template, migrates a fresh PostgreSQL database, runs the project's own gunicorn
configuration on loopback under production settings, and drives the token endpoint and
/api/me/ with the connections held three ways. Prints each as ratios to a new connection per
request (Django's default, CONN_MAX_AGE=0). About two minutes with the defaults. Loopback
connections are the cheapest there are: across a network, with TLS, a new connection per
request costs more, so the gain measured here for keeping them is a lower bound.
"""

from harness import BIN_DIR, main

GUNICORN = [str(BIN_DIR / "gunicorn"), "--config=gunicorn.conf.py", "--bind=127.0.0.1:{port}", "config.wsgi"]

# Django 5.1+ hands out connections from a psycopg pool per worker process instead.
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
POOL_SETTINGS = """
from .production import *  # noqa: F403
from .production import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["OPTIONS"] = {"pool": True}
"""

VARIANTS = {
    "new connection per request (CONN_MAX_AGE=0)": (GUNICORN, {"DJANGO_CONN_MAX_AGE": "0"}),
    "persistent connections (CONN_MAX_AGE=60, health checks)": (GUNICORN, {"DJANGO_CONN_MAX_AGE": "60"}),
    "psycopg pool (OPTIONS pool=True)": (
        GUNICORN,
        {"DJANGO_SETTINGS_MODULE": "config.settings.benchmark_pool"},
    ),
}

if __name__ == "__main__":
    main(__doc__, VARIANTS, extra_files={"config/settings/benchmark_pool.py": POOL_SETTINGS})
