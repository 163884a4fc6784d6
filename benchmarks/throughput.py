"""
How fast is a baked project, next to the ceiling of its server and to DOT's documented defaults?

    uv run --locked --extra test --extra bench python benchmarks/throughput.py \
        [--seconds 8] [--soak-seconds 60] [--databases sqlite postgresql] [--json results.json] \
        [--variant no-token-cache:OAUTH_TOKEN_CACHE_SECONDS=0 ...]

In one run, side by side, on loopback, with wrk (Debian's package):
- the bake itself (`cookiecutter --no-input ... run_setup=y`), timed;
- the ceiling: a bare JSON view on the project's own gunicorn command, without middleware (a
  settings module written here), then the same view behind the project's production middleware;
- a reference: DOT's tutorial configuration (default client-secret hasher, ATOMIC_REQUESTS unset,
  a `@protected_resource` view), built here in a temp dir, on the same server;
- the project under its production command on each database: the token endpoint (client
  credentials; refresh; authorization code with PKCE, the one-time codes and refresh tokens
  created in bulk beforehand and walked by wrk's Lua script), `/api/me/` with a valid opaque token
  and with a JWT access token (RFC 9068, the project's own generator), introspection by a resource
  server, and last `/api/me/` for --soak-seconds, so that memory growth is counted over a minute.
  PostgreSQL is a fresh database on 127.0.0.1:5432;
- each --variant: the project's rows again with some settings changed through the environment
  (the same bake, the same run), with their ratio to the defaults' rows: what a setting buys.

Prints requests/s, p50/p99 latency, non-2xx answers, resident memory per worker (and its growth
over the server's run), and the ratios to the ceiling and the reference; `--json` writes them.
Every process it starts is stopped when it ends. Not a pass/fail test: ratios within one run mean
more than absolute figures, and only on a quiet machine.
"""

import argparse
import base64
import contextlib
import json
import os
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from harness import free_port, machine_facts, read_env_file

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
# One-time codes and refresh tokens made per measured second: above what two cores redeem.
ONE_TIME_PER_SECOND = 3000

# The ceiling: a JSON view and nothing else, then behind the project's middleware.
CEILING_FILES = {
    "benchmark_ceiling/__init__.py": "",
    "benchmark_ceiling/urls.py": """
        from django.http import JsonResponse
        from django.urls import path


        def bare(request):
            return JsonResponse({"ok": True})


        urlpatterns = [path("bare/", bare)]
    """,
    "benchmark_ceiling/bare.py": """
        SECRET_KEY = "benchmark-only"
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1"]
        ROOT_URLCONF = "benchmark_ceiling.urls"
        INSTALLED_APPS = []
        MIDDLEWARE = []
        DATABASES = {}
        USE_TZ = True
    """,
    "benchmark_ceiling/with_middleware.py": """
        from config.settings.production import *  # noqa: F403

        ROOT_URLCONF = "benchmark_ceiling.urls"
    """,
    # Run in the bake's virtualenv: the one-time grants and refresh tokens, and a token for /api/me/.
    "benchmark_fixtures.py": """
        import base64
        import hashlib
        import json
        import os
        import secrets
        import sys
        import urllib.parse
        from datetime import timedelta

        import django

        django.setup()

        from authserver.access_tokens import generate as generate_jwt_access_token
        from django.contrib.auth import get_user_model
        from django.db import transaction
        from django.utils import timezone
        from oauth2_provider.models import (
            get_access_token_model,
            get_application_model,
            get_grant_model,
            get_refresh_token_model,
            set_token_value,
        )
        from oauthlib.common import Request

        AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()
        count, out_dir = int(sys.argv[1]), sys.argv[2]
        demo = get_application_model().objects.get(client_id=os.environ["OAUTH_DEMO_CLIENT_ID"])
        user, _ = get_user_model().objects.get_or_create(username="benchmark-user")
        redirect_uri = demo.redirect_uris.split()[0]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        expires = timezone.now() + timedelta(hours=2)


        def token(model, raw, **fields):
            instance = model(**fields)
            set_token_value(instance, raw)
            return instance


        with transaction.atomic():
            codes = [secrets.token_urlsafe(30) for _ in range(count)]
            get_grant_model().objects.bulk_create(
                [
                    get_grant_model()(
                        user=user, application=demo, code=code, expires=expires, redirect_uri=redirect_uri,
                        scope="read", code_challenge=challenge, code_challenge_method="S256",
                    )
                    for code in codes
                ],
                batch_size=1000,
            )
            access_tokens = AccessToken.objects.bulk_create(
                [
                    token(AccessToken, secrets.token_urlsafe(30), user=user, application=demo,
                          expires=expires, scope="read")
                    for _ in range(count)
                ],
                batch_size=1000,
            )
            refresh = [secrets.token_urlsafe(30) for _ in range(count)]
            RefreshToken.objects.bulk_create(
                [
                    token(RefreshToken, raw, user=user, application=demo, access_token=access_token)
                    for raw, access_token in zip(refresh, access_tokens, strict=True)
                ],
                batch_size=1000,
            )
            bearer = secrets.token_urlsafe(30)
            token(AccessToken, bearer, user=user, application=demo, expires=expires, scope="read").save()
            # An RFC 9068 JWT access token, made by the project's own generator as its token
            # endpoint makes one with OAUTH_ACCESS_TOKEN_FORMAT=jwt, stored the same way.
            issuing = Request("https://127.0.0.1/o/token/")
            issuing.grant_type, issuing.user, issuing.client, issuing.scopes = "refresh_token", user, demo, ["read"]
            jwt_bearer = generate_jwt_access_token(issuing)
            token(AccessToken, jwt_bearer, user=user, application=demo, expires=expires, scope="read").save()

        with open(os.path.join(out_dir, "authorization_code.txt"), "w") as bodies:
            for code in codes:
                fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                          "code_verifier": verifier}
                bodies.write(urllib.parse.urlencode(fields) + "\\n")
        with open(os.path.join(out_dir, "refresh_token.txt"), "w") as bodies:
            for raw in refresh:
                bodies.write(urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": raw}) + "\\n")
        print(json.dumps({"bearer": bearer, "jwt_bearer": jwt_bearer}))
    """,
}

# DOT's tutorial, as documented: default settings, the default (PBKDF2) client-secret hasher,
# no ATOMIC_REQUESTS, a @protected_resource view. https://django-oauth-toolkit.readthedocs.io/en/latest/tutorial/
REFERENCE_FILES = {
    "reference/__init__.py": "",
    "reference/settings.py": """
        SECRET_KEY = "benchmark-only"
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1"]
        INSTALLED_APPS = [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "oauth2_provider",
        ]
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        ROOT_URLCONF = "reference.urls"
        TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
        USE_TZ = True
        STATIC_URL = "static/"
        OAUTH2_PROVIDER = {"SCOPES": {"read": "Read scope", "write": "Write scope"}}
    """,
    "reference/urls.py": """
        from django.http import JsonResponse
        from django.urls import include, path
        from oauth2_provider.decorators import protected_resource


        @protected_resource(scopes=["read"])
        def hello(request):
            return JsonResponse({"client_id": request.resource_owner and None, "ok": True})


        urlpatterns = [path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
                       path("api/hello/", hello)]
    """,
    "reference/wsgi.py": """
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
    """,
    "reference/setup.py": """
        import json
        import sys

        import django

        django.setup()
        from django.core.management import call_command
        from oauth2_provider.models import get_application_model

        call_command("migrate", verbosity=0)
        secret = sys.argv[1]
        get_application_model().objects.create(
            name="m2m", client_id="reference-m2m", client_secret=secret, client_type="confidential",
            authorization_grant_type="client-credentials",
        )
    """,
}

# wrk's Lua: counts non-2xx answers per thread, walks a file of one-time bodies when given one
# (each thread its own share of the lines), and prints one JSON line at the end.
WRK_SCRIPT = """
local method, path, headers, fixed_body = {method}, {path}, {headers}, {body}
local bodies_path, thread_count = {bodies_path}, {thread_count}
local threads = {{}}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  non_2xx, exhausted = 0, 0
  if bodies_path then
    bodies, next_body = {{}}, 1
    local line_number = 0
    for line in io.lines(bodies_path) do
      if line_number % thread_count == id then table.insert(bodies, line) end
      line_number = line_number + 1
    end
  else
    fixed_request = wrk.format(method, path, headers, fixed_body)
  end
end

function request()
  if fixed_request then return fixed_request end
  local body = bodies[next_body]
  if body == nil then
    exhausted = exhausted + 1
    body = bodies[#bodies]
  else
    next_body = next_body + 1
  end
  return wrk.format(method, path, headers, body)
end

function response(status, response_headers, response_body)
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local non_2xx_total, exhausted_total = 0, 0
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
    exhausted_total = exhausted_total + thread:get("exhausted")
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "duration_us": %d, "non_2xx": %d, "exhausted": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, non_2xx_total, exhausted_total,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua(value):
    """A Lua literal for a str, dict of str, int or None (JSON's string syntax is Lua's, for ASCII)."""
    if value is None:
        return "nil"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    literal = json.dumps(value, ensure_ascii=True)
    if "\\u" in literal:
        raise ValueError(f"not ASCII: {value!r}")
    return literal


def write_files(root, files):
    for relative_path, text in files.items():
        (root / relative_path).parent.mkdir(parents=True, exist_ok=True)
        (root / relative_path).write_text(textwrap.dedent(text).lstrip())


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def http(port, method, path, headers=None, body=None, timeout=60):
    """One request; returns (status, body). Used to wait for a server and to fetch a token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def worker_pids(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        return []


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Server:
    """A gunicorn process until the block ends, once `ready_path` answers below 500 (60 s at most)."""

    def __init__(self, name, command, cwd, env, ready_path, port):
        self.name, self.command, self.cwd, self.env = name, command, cwd, env
        self.ready_path, self.port = ready_path, port
        self.memory_start = {}

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while not 0 < http(self.port, "GET", self.ready_path, timeout=5)[0] < 500:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")
            time.sleep(0.2)
        return self

    def tail(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def memory(self):
        return {pid: rss_mb(pid) for pid in worker_pids(self.process.pid)}

    def mark_memory(self):
        """Resident memory per worker once warmed up: where growth is counted from."""
        if not self.memory_start:
            self.memory_start, self.memory_started_at = self.memory(), time.monotonic()

    def memory_report(self):
        end = self.memory()
        return [
            {
                "pid": pid,
                "rss_mb": rss,
                "growth_mb": None if pid not in self.memory_start else round(rss - self.memory_start[pid], 1),
            }
            for pid, rss in end.items()
            if rss is not None
        ]

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Bench:
    def __init__(self, arguments, work_dir):
        self.arguments, self.work_dir = arguments, work_dir
        self.rows, self.servers = [], []

    def wrk(self, port, method, path, headers, body=None, bodies_path=None, seconds=1.0):
        script = self.work_dir / f"wrk-{secrets.token_hex(4)}.lua"
        script.write_text(
            WRK_SCRIPT.format(
                method=lua(method),
                path=lua(path),
                headers=lua(headers),
                body=lua(body),
                bodies_path=lua(str(bodies_path) if bodies_path else None),
                thread_count=lua(self.arguments.threads),
            )
        )
        command = [
            WRK,
            f"--threads={self.arguments.threads}",
            f"--connections={self.arguments.connections}",
            f"--duration={max(1, round(seconds))}s",
            "--timeout=30s",
            f"--script={script}",
            f"http://127.0.0.1:{port}",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT "))
        return json.loads(line.removeprefix("WRK_RESULT "))

    def measure(
        self,
        server,
        row_id,
        title,
        method,
        path,
        headers,
        body=None,
        bodies=None,
        seconds=None,
        warmup=True,
        **labels,
    ):
        """Warm up, then measure one row; bodies = (warm-up file, measured file) of one-time bodies."""
        seconds = seconds or self.arguments.seconds
        warm_bodies, measured_bodies = bodies or (None, None)
        if warmup and self.arguments.warmup:
            self.wrk(server.port, method, path, headers, body, warm_bodies, self.arguments.warmup)
        server.mark_memory()
        result = self.wrk(server.port, method, path, headers, body, measured_bodies, seconds)
        duration = result["duration_us"] / 1e6
        row = {
            "id": row_id,
            **labels,
            "title": title,
            "server": server.name,
            "requests": result["requests"],
            "requests_per_second": round(result["requests"] / duration, 1) if duration else 0,
            "p50_ms": round(result["p50_us"] / 1000, 2),
            "p99_ms": round(result["p99_us"] / 1000, 2),
            "non_2xx": result["non_2xx"],
            "socket_errors": result["socket_errors"],
            "timeouts": result["timeouts"],
            "one_time_bodies_exhausted": result["exhausted"],
        }
        self.rows.append(row)
        print(
            f"  {row['requests_per_second']:9.1f} req/s  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms"
            f"  non-2xx {row['non_2xx']}  {title}",
            flush=True,
        )
        if result["exhausted"]:
            print(f"  ({result['exhausted']} requests reused a one-time body: raise ONE_TIME_PER_SECOND)")
        return row

    def finish_server(self, server):
        self.servers.append(
            {
                "name": server.name,
                # Over how long the growth is counted: from the first row's warm-up to now.
                "memory_seconds": round(time.monotonic() - server.memory_started_at, 1),
                "workers": server.memory_report(),
            }
        )


def bake(work_dir):
    """The bake as a user makes it (run_setup=y: virtualenv, key, SQLite migrated, clients seeded)."""
    started = time.monotonic()
    subprocess.run(
        [str(BIN_DIR / "cookiecutter"), "--no-input", "-o", str(work_dir), str(TEMPLATE_DIR), "run_setup=y"],
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    (project,) = (path for path in work_dir.iterdir() if (path / "manage.py").is_file())
    return project, seconds


def gunicorn_command(project, port, wsgi="config.wsgi"):
    """The Procfile's command, bound to loopback on a free port."""
    return [
        str(project / ".venv/bin/gunicorn"),
        "--config=gunicorn.conf.py",
        f"--bind=127.0.0.1:{port}",
        wsgi,
    ]


def server_shape(project, env):
    """Workers and threads the project's gunicorn.conf.py picks here, so the reference gets the same."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        config = runpy.run_path(str(project / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config["workers"], config.get("threads", 1)


def base_env(project):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OAUTH_", "GUNICORN"))}
    return {
        **inherited,
        # Production settings read no .env: everything they require is given, as on a server.
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{project / 'db.sqlite3'}",
        "OAUTH_ISSUER": "https://127.0.0.1",
        "EMAIL_URL": "smtp://127.0.0.1:1",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Plain http on loopback: no TLS-terminating proxy in front here.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # Outlives the run: the bearer token must not expire half-way.
        "OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS": "3600",
    }


def run_ceiling(bench, project, env):
    for name, settings_module, title in (
        ("ceiling, bare", "benchmark_ceiling.bare", "ceiling: bare JSON view, no middleware"),
        (
            "ceiling, middleware",
            "benchmark_ceiling.with_middleware",
            "ceiling: bare JSON view, the project's middleware",
        ),
    ):
        port = free_port()
        server_env = {**env, "DJANGO_SETTINGS_MODULE": settings_module}
        with Server(name, gunicorn_command(project, port), project, server_env, "/bare/", port) as server:
            row_id = "ceiling-bare" if settings_module.endswith("bare") else "ceiling-middleware"
            bench.measure(server, row_id, title, "GET", "/bare/", {})
            bench.finish_server(server)


def run_reference(bench, project, env):
    root = bench.work_dir / "reference-project"
    write_files(root, REFERENCE_FILES)
    reference_env = {**env, "DJANGO_SETTINGS_MODULE": "reference.settings", "PYTHONPATH": str(root)}
    secret = secrets.token_urlsafe(32)
    subprocess.run(
        [str(project / ".venv/bin/python"), "reference/setup.py", secret],
        cwd=root,
        env=reference_env,
        check=True,
    )
    workers, threads = server_shape(project, env)
    port = free_port()
    command = [
        str(project / ".venv/bin/gunicorn"),
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "reference.wsgi",
    ]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    client_credentials = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "read"})
    credentials = {**form, "Authorization": basic("reference-m2m", secret)}
    with Server("reference (DOT tutorial)", command, root, reference_env, "/api/hello/", port) as server:
        # Its PBKDF2-hashed client secret makes every token request ~100 times slower: measured
        # longer, so that a short run still sees some, and without a warm-up, whose requests
        # would still be hashing when the measured ones start.
        bench.measure(
            server,
            "reference-client-credentials",
            "reference: POST /o/token/ client credentials (DOT defaults)",
            "POST",
            "/o/token/",
            credentials,
            client_credentials,
            seconds=max(bench.arguments.seconds, 15),
            warmup=False,
        )
        bearer = fetch_token(port, credentials, client_credentials)
        bench.measure(
            server,
            "reference-protected-resource",
            "reference: GET @protected_resource view (DOT defaults)",
            "GET",
            "/api/hello/",
            {"Authorization": f"Bearer {bearer}"},
        )
        bench.finish_server(server)


def fetch_token(port, headers, body):
    status, answer = http(port, "POST", "/o/token/", headers, body.encode())
    if status != 200:
        raise RuntimeError(f"the token endpoint answered {status}: {answer[:300]!r}")
    return json.loads(answer)["access_token"]


@contextlib.contextmanager
def database(project, env, name):
    """The project's environment on `name`: the bake's SQLite, or a fresh, migrated PostgreSQL database."""
    if name == "sqlite":
        yield env
        return
    import psycopg

    database_name = f"oauth_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{database_name}"')
        try:
            database_env = {**env, "DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database_name}"}
            # Local settings for the set-up: production ones refuse the demo client's http redirect URI.
            setup_env = {**database_env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
            for command in (["migrate", "--noinput"], ["seed_oauth_clients"]):
                subprocess.run(
                    [str(project / ".venv/bin/python"), "manage.py", *command],
                    cwd=project,
                    env=setup_env,
                    check=True,
                    capture_output=True,
                )
            yield database_env
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')


def run_project(bench, project, env, database_name, variant=None):
    """The project's rows on one database; `variant` = (label, environment) runs them again with
    settings changed through the environment, for an A/B within the same run."""
    label, variant_env = variant or (None, {})
    prefix = f"{database_name}-{label}" if label else database_name
    values = read_env_file(project / ".env")
    bodies_dir = bench.work_dir / f"bodies-{prefix}"
    bodies_dir.mkdir()
    arguments = bench.arguments
    with database(project, env, database_name) as database_env:
        database_env = {**database_env, **variant_env}
        bodies = {}
        for phase, seconds in (("warmup", arguments.warmup), ("measured", arguments.seconds)):
            (bodies_dir / phase).mkdir()
            count = max(100, round(seconds * ONE_TIME_PER_SECOND))
            fixtures = subprocess.run(
                [
                    str(project / ".venv/bin/python"),
                    "benchmark_fixtures.py",
                    str(count),
                    str(bodies_dir / phase),
                ],
                cwd=project,
                # Production settings read no .env: the script is told which client is the demo's.
                env={**database_env, "OAUTH_DEMO_CLIENT_ID": values["OAUTH_DEMO_CLIENT_ID"]},
                check=True,
                capture_output=True,
                text=True,
            )
            bodies[phase] = bodies_dir / phase
        bearers = json.loads(fixtures.stdout.splitlines()[-1])
        port = free_port()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        m2m = {
            **form,
            "Authorization": basic(values["OAUTH_M2M_CLIENT_ID"], values["OAUTH_M2M_CLIENT_SECRET"]),
        }
        demo = {
            **form,
            "Authorization": basic(values["OAUTH_DEMO_CLIENT_ID"], values["OAUTH_DEMO_CLIENT_SECRET"]),
        }
        client_credentials = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "read"})
        name = f"project on {database_name}" + (f", {label}" if label else "")
        title_prefix = f"{database_name}" + (f" ({label})" if label else "")

        def measure(kind, title, *request, **options):
            bench.measure(
                server,
                f"{prefix}-{kind}",
                f"{title_prefix}: {title}",
                *request,
                kind=kind,
                database=database_name,
                variant=label,
                **options,
            )

        with Server(name, gunicorn_command(project, port), project, database_env, "/healthz", port) as server:
            for kind, grant, row_headers, one_time in (
                ("client-credentials", "client credentials", m2m, None),
                ("refresh", "refresh token", demo, "refresh_token.txt"),
                ("authorization-code", "authorization code + PKCE", demo, "authorization_code.txt"),
            ):
                measure(
                    kind,
                    f"POST /o/token/ {grant}",
                    "POST",
                    "/o/token/",
                    row_headers,
                    None if one_time else client_credentials,
                    bodies=(bodies["warmup"] / one_time, bodies["measured"] / one_time) if one_time else None,
                )
            me = ("GET", "/api/me/", {"Authorization": f"Bearer {bearers['bearer']}"})
            measure("api-me", "GET /api/me/ with a valid token", *me)
            jwt_me = ("GET", "/api/me/", {"Authorization": f"Bearer {bearers['jwt_bearer']}"})
            measure("api-me-jwt", "GET /api/me/ with a valid JWT access token (RFC 9068)", *jwt_me)
            introspection = urllib.parse.urlencode({"token": bearers["bearer"]})
            measure(
                "introspection",
                "POST /o/introspect/ by a resource server",
                "POST",
                "/o/introspect/",
                m2m,
                introspection,
            )
            if arguments.soak_seconds and not label:
                # The longest row: what each worker's memory does under sustained load.
                measure(
                    "api-me-sustained",
                    f"GET /api/me/ for {arguments.soak_seconds:g} s (memory)",
                    *me,
                    seconds=arguments.soak_seconds,
                    warmup=False,
                )
            bench.finish_server(server)


# Which row each row is compared with, besides the ceiling.
REFERENCE_OF = {
    "client-credentials": "reference-client-credentials",
    "api-me": "reference-protected-resource",
    "api-me-jwt": "reference-protected-resource",
}


def add_ratios(rows):
    by_id = {row["id"]: row for row in rows}
    defaults = {(row.get("database"), row.get("kind")): row for row in rows if not row.get("variant")}

    def ratio(row, other):
        if not other or not other["requests_per_second"]:
            return None
        return round(row["requests_per_second"] / other["requests_per_second"], 3)

    for row in rows:
        kind = row.get("kind")
        row["ratio_to_ceiling"] = ratio(row, by_id.get("ceiling-bare"))
        row["ratio_to_reference"] = ratio(row, by_id.get(REFERENCE_OF.get(kind)))
        # A variant against the same row with the project's defaults, in the same run.
        row["ratio_to_default"] = (
            ratio(row, defaults.get((row["database"], kind))) if row.get("variant") else None
        )


def print_summary(results):
    print(f"\nbake (run_setup=y): {results['bake_seconds']:.1f} s")
    print(
        f"{results['machine']['cores']} cores, wrk -t{results['wrk']['threads']} -c{results['wrk']['connections']}"
    )
    print(
        f"{'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} {'x ceiling':>9} {'x reference':>11}"
        f" {'x default':>9}  row"
    )
    for row in results["rows"]:
        ceiling = "" if row["ratio_to_ceiling"] is None else f"{row['ratio_to_ceiling']:.2f}"
        reference = "" if row["ratio_to_reference"] is None else f"{row['ratio_to_reference']:.1f}"
        default = "" if row.get("ratio_to_default") is None else f"{row['ratio_to_default']:.2f}"
        print(
            f"{row['requests_per_second']:9.1f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} {row['non_2xx']:7d}"
            f" {ceiling:>9} {reference:>11} {default:>9}  {row['title']}"
        )
    print("\nresident memory per worker at the end (growth since the first row warmed up), MB:")
    for server in results["servers"]:
        workers = ", ".join(
            f"{w['rss_mb']:.0f} ({w['growth_mb']:+.1f})"
            for w in server["workers"]
            if w["growth_mb"] is not None
        )
        print(f"  {server['name']}, over {server['memory_seconds']:.0f} s: {workers}")


def run(arguments):
    with tempfile.TemporaryDirectory(prefix="oauth-throughput-") as work:
        work_dir = Path(work)
        print("baking (run_setup=y) ...", flush=True)
        project, bake_seconds = bake(work_dir)
        write_files(project, CEILING_FILES)
        env = base_env(project)
        bench = Bench(arguments, work_dir)
        load_before = os.getloadavg()
        run_ceiling(bench, project, env)
        run_reference(bench, project, env)
        for database_name in arguments.databases:
            run_project(bench, project, env, database_name)
            for variant in arguments.variant:
                run_project(bench, project, env, database_name, variant)
        add_ratios(bench.rows)
        workers, threads = server_shape(project, env)
        results = {
            "machine": machine_facts(load_before),
            "wrk": {
                "threads": arguments.threads,
                "connections": arguments.connections,
                "seconds": arguments.seconds,
            },
            "gunicorn": {"workers": workers, "threads": threads},
            "variants": {label: variant_env for label, variant_env in arguments.variant},
            "bake_seconds": round(bake_seconds, 1),
            "rows": bench.rows,
            "servers": bench.servers,
        }
        print_summary(results)
        if arguments.json:
            arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def variant(text):
    """--variant's value: (label, {name: value})."""
    label, _, assignments = text.partition(":")
    pairs = [assignment.partition("=") for assignment in assignments.split(",") if assignment]
    if not label or not pairs or any(not name or not equals for name, equals, _ in pairs):
        raise argparse.ArgumentTypeError(f"not LABEL:NAME=VALUE[,NAME=VALUE]: {text!r}")
    return label, {name: value for name, _, value in pairs}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8, help="measured load per row (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured load before each row (default 2)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=60,
        help="a last, long /api/me/ row on each database, for the workers' memory growth (default 60; 0: none)",
    )
    parser.add_argument(
        "--variant",
        type=variant,
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE[,NAME=VALUE]",
        help="run the project's rows again with these environment variables, e.g. "
        "no-token-cache:OAUTH_TOKEN_CACHE_SECONDS=0 (repeatable; see the generated docs/performance.md)",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    raise SystemExit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
