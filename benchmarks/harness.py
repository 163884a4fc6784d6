"""
What the benchmarks share: a throwaway bake on a fresh PostgreSQL database, server processes
on loopback, and a bounded load loop that prints every variant as a ratio of the first one.

Every number comes from one invocation: the variants run in turn, round after round, on the
same machine, so the ratios compare like with like even where the absolute numbers do not.
"""

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BIN_DIR = Path(sys.executable).parent
CORES = os.cpu_count() or 1


def machine_facts(load_average_before):
    """What a run's figures depend on: the machine, and how busy it was before and after."""
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": load_average_before,
        "load_average_after": os.getloadavg(),
    }


@dataclass(frozen=True)
class Project:
    path: Path
    env: dict[str, str]
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_env_file(path):
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@contextlib.contextmanager
def delayed_tcp_proxy(target_port, delay_ms):
    """
    A loopback TCP proxy to `target_port` that holds every answer back `delay_ms`, as a
    database across a network would; yields its port. It runs in a thread of this process,
    so its CPU time is not the server's.
    """
    loop = asyncio.new_event_loop()
    port = free_port()

    async def pipe(reader, writer, delay):
        while chunk := await reader.read(65536):
            await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    async def connection(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pipe(client_reader, server_writer, 0),
            pipe(server_reader, client_writer, delay_ms / 1000),
            return_exceptions=True,
        )

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(asyncio.start_server(connection, "127.0.0.1", port), loop)
    server = listening.result(timeout=10)
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@contextlib.contextmanager
def baked_project(database_latency_ms=0):
    """
    A run_setup=n bake, migrated on a fresh PostgreSQL database, under production settings; its
    servers reach the database through a proxy that adds `database_latency_ms` to each answer.
    """
    database = f"oauth_bench_{os.getpid()}_{secrets.token_hex(4)}"
    postgres = urllib.parse.urlsplit(POSTGRES_ADMIN_URL)
    with (
        tempfile.TemporaryDirectory(prefix="oauth-bench-") as output_dir,
        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin,
        delayed_tcp_proxy(postgres.port or 5432, database_latency_ms) as proxy_port,
    ):
        path = Path(
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, output_dir=output_dir, extra_context={"run_setup": "n"}
            )
        )
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OAUTH_"))}
            env = {
                **inherited,
                # Production settings read no .env: everything they require is given.
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "OAUTH_ISSUER": "https://127.0.0.1",
                "EMAIL_URL": "smtp://127.0.0.1:1",
                "DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
                # Plain http on loopback: no TLS-terminating proxy in front here.
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS": "3600",
            }
            # Local settings for the setup: production ones refuse the demo client's http redirect URI.
            setup_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
            if database_latency_ms:
                env["DATABASE_URL"] = f"postgres://{postgres.username}@127.0.0.1:{proxy_port}/{database}"
            for command in (["create_oidc_key"], ["migrate", "--noinput"], ["seed_oauth_clients"]):
                subprocess.run(
                    [sys.executable, "manage.py", *command],
                    cwd=path,
                    env=setup_env,
                    check=True,
                    capture_output=True,
                )
            values = read_env_file(path / ".env")
            yield Project(path, env, values["OAUTH_M2M_CLIENT_ID"], values["OAUTH_M2M_CLIENT_SECRET"])
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def running(project, command, port, **env):
    """A server process until the block ends, once /healthz answers (30 s at most); yields its pid."""
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            command, cwd=project.path, env={**project.env, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while request(port, Endpoint("GET", "/healthz", {}))[0] != 200:
                if time.monotonic() > deadline or server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command} did not start:\n{log.read().decode()[-3000:]}")
                time.sleep(0.2)
            yield server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def request(port, endpoint):
    """One request on a new connection (what a proxy without upstream keep-alive does)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(endpoint.method, endpoint.path, endpoint.body, endpoint.headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def token_endpoint(project):
    """Client credentials at the token endpoint: client authentication, a token written to the database."""
    credentials = base64.b64encode(f"{project.client_id}:{project.client_secret}".encode()).decode()
    return Endpoint(
        "POST",
        "/o/token/",
        {"Authorization": f"Basic {credentials}", "Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "read"}).encode(),
    )


def me_endpoint(port, project):
    """/api/me/ with a bearer token: the token looked up in the database, a small JSON answer."""
    status, body = request(port, token_endpoint(project))
    if status != 200:
        raise RuntimeError(f"the token endpoint answered {status}: {body[:300]!r}")
    return Endpoint("GET", "/api/me/", {"Authorization": f"Bearer {json.loads(body)['access_token']}"})


def cpu_seconds(pid):
    """CPU time of a server process and its worker processes, those that exited included."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        process, parent = int(stat.parent.name), int(fields[1])
        if process == pid:
            ticks += sum(map(int, fields[11:15]))  # utime, stime, and those of reaped children
        elif parent == pid:
            ticks += sum(map(int, fields[11:13]))
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p95_ms: float
    cpu_ms_per_request: float
    failures: dict


def load(port, pid, endpoint, clients, seconds):
    """
    `clients` threads send requests back to back for `seconds`; every answer but a 200 is a
    failure. The server's CPU time per request barely depends on what else the machine runs,
    unlike requests per second.
    """
    latencies, failures = [], []
    deadline = time.monotonic() + seconds
    cpu_before = cpu_seconds(pid)

    def client():
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _ = request(port, endpoint)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(len(latencies), 1)
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else float("nan")
    return Load(len(latencies) / seconds, p95, cpu_ms, dict(Counter(failures)))


def compare(project, variants, *, rounds, seconds, clients, warmup=1.0):
    """
    Run every variant (name -> (command with {port}, extra env)) `rounds` times in turn and
    print requests per second and p95 latency per endpoint, as ratios of the first variant.
    """
    results = {(name, endpoint): [] for name in variants for endpoint in ("token", "me")}
    for round_number in range(1, rounds + 1):
        for name, (command, env) in variants.items():
            port = free_port()
            with running(project, [part.format(port=port) for part in command], port, **env) as pid:
                endpoints = {"token": token_endpoint(project), "me": me_endpoint(port, project)}
                for endpoint_name, endpoint in endpoints.items():
                    load(port, pid, endpoint, clients, warmup)
                    result = load(port, pid, endpoint, clients, seconds)
                    results[name, endpoint_name].append(result)
                    print(
                        f"  round {round_number} {endpoint_name:5} {result.requests_per_second:7.1f} req/s "
                        f"p95 {result.p95_ms:6.1f} ms  CPU {result.cpu_ms_per_request:5.2f} ms/request  "
                        f"failures {result.failures or 'none'}  {name}",
                        flush=True,
                    )
    baseline = next(iter(variants))
    print(f"\n{CORES} cores, {clients} concurrent clients, {rounds} × {seconds:g} s per variant and endpoint")
    print("Medians of the rounds, and ratios to the first variant: req/s higher is better, CPU lower.")
    for endpoint_name, title in (
        ("token", "POST /o/token/ (client credentials)"),
        ("me", "GET /api/me/ (bearer)"),
    ):
        print(f"\n{title}")
        runs = results[baseline, endpoint_name]
        base_rate = statistics.median(r.requests_per_second for r in runs)
        base_cpu = statistics.median(r.cpu_ms_per_request for r in runs)
        for name in variants:
            runs = results[name, endpoint_name]
            rate = statistics.median(r.requests_per_second for r in runs)
            cpu = statistics.median(r.cpu_ms_per_request for r in runs)
            p95 = statistics.median(r.p95_ms for r in runs)
            failures = sum(sum(r.failures.values()) for r in runs)
            print(
                f"  {rate / base_rate:5.2f}× {rate:7.1f} req/s  {cpu / base_cpu:5.2f}× {cpu:5.2f} ms CPU/request  "
                f"p95 {p95:6.1f} ms  failures {failures}  {name}"
            )


def main(description, variants, extra_files=None):
    """The command line of a benchmark: bake, add `extra_files` to the bake, compare `variants`."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4, help="measured load per variant and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--database-latency-ms",
        type=float,
        default=0,
        help="added to every answer of PostgreSQL, as over a network",
    )
    arguments = parser.parse_args()
    with baked_project(arguments.database_latency_ms) as project:
        for relative_path, text in (extra_files or {}).items():
            (project.path / relative_path).write_text(text)
        compare(
            project, variants, rounds=arguments.rounds, seconds=arguments.seconds, clients=arguments.clients
        )
