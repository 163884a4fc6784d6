"""
Ours: the baked project under its production command (the Procfile's gunicorn, 2 processes x 4
threads here), on the bake's SQLite (with each worker's memory cache, the default) or on a fresh,
migrated PostgreSQL database with Redis as the shared cache (as production runs). Client secrets
are hashed by the project's own salted SHA-256 (authserver/hashers.py, CLIENT_SECRET_HASHER).
The rows: client credentials at /o/token/, introspection by the seeded machine-to-machine client
(a resource server), and /api/me/, each with the same 3600 s token.
"""

import contextlib
import os

import throughput
from harness import free_port, read_env_file

from peers import Target
from peers.validation import validated_requests

WORKERS, THREADS = 2, 4
DATABASE_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL + Redis"}
# Production's shared cache, for the PostgreSQL row; a database number of its own.
REDIS_URL = os.environ.get("BENCHMARK_REDIS_URL", "redis://127.0.0.1:6379/3")


def bake(work_dir):
    """The bake as a user makes it (run_setup=y), under work_dir/ours, made once for every database."""
    bake_dir = work_dir / "ours"
    if not bake_dir.is_dir():
        bake_dir.mkdir(parents=True)
        throughput.bake(bake_dir)
    (project,) = (path for path in bake_dir.iterdir() if (path / "manage.py").is_file())
    return project


@contextlib.contextmanager
def start(bench, work_dir, database):
    if database not in DATABASE_TITLES:
        raise ValueError(f"ours runs on sqlite or postgresql, not {database!r}")
    project = bake(work_dir)
    values = read_env_file(project / ".env")
    env = {**throughput.base_env(project), "WEB_CONCURRENCY": str(WORKERS), "GUNICORN_THREADS": str(THREADS)}
    if database == "postgresql":
        env["CACHE_URL"] = REDIS_URL
    with throughput.database(project, env, database) as database_env:
        port = free_port()
        name = f"ours ({WORKERS} workers x {THREADS} threads, {DATABASE_TITLES[database]})"
        command = throughput.gunicorn_command(project, port)
        with throughput.Server(name, command, project, database_env, "/healthz", port) as server:
            paths = {"token": "/o/token/", "introspection": "/o/introspect/", "resource": "/api/me/"}
            # The seeded machine-to-machine client is a resource server too.
            m2m = (values["OAUTH_M2M_CLIENT_ID"], values["OAUTH_M2M_CLIENT_SECRET"])
            requests = validated_requests(server, paths, m2m, m2m)
            yield Target(name, f"ours-{database}", database, server, requests)
