"""
node-oidc-provider 9 (the npm package `oidc-provider`), the fastest OAuth server the benchmark
measures: node_oidc_provider/server.mjs, run with Node (20 works, with the package's warning).

How it is set up, the way a small production deployment for machine-to-machine clients would be:
NODE_ENV=production; node:cluster with 2 workers sharing the port; every artifact stored in Redis
(127.0.0.1:6379, the script's own adapter over ioredis, under a key prefix unique to the run and
deleted after); client credentials enabled with 3600 s opaque tokens; introspection (RFC 7662)
enabled for a resource-server client; both clients authenticate with client_secret_basic, their
secrets kept as given and compared in constant time (the package has no secret hashing); no
request log. The protected resource is a route of the same process that looks the token up in
Redis (see server.mjs). The packages come from package-lock.json by `npm ci`, into a copy in the
work directory.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import redis
from harness import free_port
from throughput import Server

from peers import Target
from peers.validation import validated_requests

SOURCE = Path(__file__).with_name("node_oidc_provider")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = 2


def install(app_dir):
    """The locked packages, into a copy of the peer's directory."""
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        raise RuntimeError("node-oidc-provider needs node and npm on PATH")
    shutil.copytree(SOURCE, app_dir, ignore=shutil.ignore_patterns("node_modules"))
    installing = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=app_dir,
        capture_output=True,
        text=True,
    )
    if installing.returncode:
        raise RuntimeError(f"npm ci failed for node-oidc-provider:\n{installing.stderr[-3000:]}")


def delete_keys(prefix):
    """The run's keys, gone; a Redis that does not answer holds none (and the server's log says why)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.ConnectionError:
        pass
    finally:
        client.close()


@contextlib.contextmanager
def start(bench, work_dir: Path, database: str):
    if database != "redis":
        raise ValueError(f"node-oidc-provider is measured on Redis only, not {database}")
    app_dir = work_dir / "node-oidc-provider"
    install(app_dir)
    port = free_port()
    client_id, client_secret = "benchmark-m2m", secrets.token_urlsafe(32)
    resource_server_id, resource_server_secret = "benchmark-resource-server", secrets.token_urlsafe(32)
    prefix = f"benchmark-node-oidc-provider-{secrets.token_hex(6)}:"
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PORT": str(port),
        "WORKERS": str(WORKERS),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "CLIENT_ID": client_id,
        "CLIENT_SECRET": client_secret,
        "RESOURCE_SERVER_ID": resource_server_id,
        "RESOURCE_SERVER_SECRET": resource_server_secret,
    }
    name = f"node-oidc-provider 9 ({WORKERS} workers, Redis)"
    try:
        command = [shutil.which("node"), "server.mjs"]
        ready_path = "/.well-known/openid-configuration"
        with Server(name, command, app_dir, env, ready_path, port) as server:
            paths = {"token": "/token", "introspection": "/token/introspection", "resource": "/resource"}
            requests = validated_requests(
                server, paths, (client_id, client_secret), (resource_server_id, resource_server_secret)
            )
            yield Target(name, "node-oidc-provider", database, server, requests)
    finally:
        delete_keys(prefix)
