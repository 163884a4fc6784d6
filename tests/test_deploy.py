"""
The generated project's deploy guide (docs/deploy.md), followed as a script would: its
`deploy-step` blocks run in order with production settings on a fresh PostgreSQL database and
Redis, gunicorn started as its systemd unit says, behind nginx running the project's
deploy/nginx.conf, which terminates TLS.

What a test machine is not, the commands are adapted for, and nothing else: no service user (root
runs the commands), temporary folders for /srv, /etc and /var/lib, free loopback ports, the test's
certificate, and the unit's ExecReload for `systemctl reload`.
"""

import contextlib
import hashlib
import http.client
import json
import re
import secrets
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from joserfc.jwk import RSAKey

from .support import DEFAULT_SLUG, bake, free_port, fresh_postgres_database, project_env, run, venv_manage
from .test_production import REDIS_URL, certificate  # noqa: F401  (a fixture used below)

pytestmark = pytest.mark.slow

SLUG = DEFAULT_SLUG
DOMAIN = "auth.example.com"
NGINX = "/usr/sbin/nginx"
ADMIN_PASSWORD = secrets.token_urlsafe(18)


def deploy_steps(guide):
    """The bash blocks the deploy guide marks `<!-- deploy-step -->`, in order."""
    return re.findall(r"^<!-- deploy-step -->\n```bash\n(.*?)\n```$", guide, re.S | re.M)


def unit(project, name):
    """A systemd unit's [Service] directives, and its Environment= lines as a dict."""
    directives, environment = {}, {}
    for line in (project / "deploy/systemd" / name).read_text().splitlines():
        key, separator, value = line.partition("=")
        if key == "Environment":
            name_, _, value_ = value.partition("=")
            environment[name_] = value_
        elif separator and not line.startswith("#"):
            directives[key] = value
    return directives, environment


def sqlite_state(project):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in project.glob("db.sqlite3*")}


@dataclass
class Deployment:
    project: Path
    var_lib: Path
    issuer: str
    gunicorn_url: str
    server: subprocess.Popen
    log: Path
    steps: list
    adapt: object
    environment: dict
    development_database: dict

    def shell(self, commands):
        """Commands in a new shell, after step 7's `cd` and `export` lines, as the guide says."""
        script = "\n".join([*self.adapt(self.steps[1]).splitlines()[:2], commands])
        return run(["bash", "-euo", "pipefail", "-c", script], cwd=self.project, env=self.environment).stdout

    def run_step(self, index):
        return self.shell(self.adapt(self.steps[index]))

    def manage(self, *args):
        """A one-off command, as step 7 runs them."""
        return self.shell(f".venv/bin/python manage.py {shlex.join(args)}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, certificate):  # noqa: F811
    redis = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((redis.hostname, redis.port), timeout=2).close()
    except OSError as error:
        pytest.skip(f"SKIPPED LOUDLY: no Redis answers at {REDIS_URL}: {error}")
    root = tmp_path_factory.mktemp("host")
    project = bake(root / "srv")
    (project / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    # The bake's development key, database and .env, which no production command may touch or read.
    venv_manage(project, "create_oidc_key")
    venv_manage(project, "migrate", "--noinput")
    development_database = sqlite_state(project)
    certificate_file, key_file = (Path(option.partition("=")[2]) for option in certificate)
    https_port, http_port, gunicorn_port = free_port(), free_port(), free_port()
    issuer = f"https://127.0.0.1:{https_port}"
    etc, var_lib = root / "etc" / SLUG, root / "var-lib" / SLUG
    (var_lib / "keys").mkdir(parents=True, mode=0o700)  # step 2, for the service user
    steps = deploy_steps((project / "docs/deploy.md").read_text())
    assert len(steps) == 5, "environment file, checks and database, admin and clients, smoke test, rotation"

    with fresh_postgres_database("deploy") as database_url:

        def adapt(text):
            for old, new in (
                (f"runuser -u {SLUG} -- ", ""),
                (f"-g {SLUG} ", "-g root "),
                (f"/srv/{SLUG}", str(project)),
                (f"/etc/{SLUG}", str(etc)),
                (f"/var/lib/{SLUG}", str(var_lib)),
                (f"https://{DOMAIN}", issuer),
                (f"postgres:///{SLUG}", database_url),
                (f"systemctl reload {SLUG}", reload_command),
                # No terminal to type the password in: createsuperuser reads it from the environment.
                ("manage.py createsuperuser", "manage.py createsuperuser --noinput"),
                (DOMAIN, "127.0.0.1"),
            ):
                text = text.replace(old, new)
            return text

        web, web_environment = unit(project, f"{SLUG}.service")
        reload_command = web["ExecReload"]
        environment = project_env(
            DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD, CURL_CA_BUNDLE=str(certificate_file)
        )
        # Steps 4, 7 and 8 in one shell.
        script = "\n".join(adapt(step) for step in steps[:3])
        setup = run(["bash", "-euo", "pipefail", "-c", script], cwd=root, env=environment).stdout
        assert "client_id=" in setup and "client_secret=" in setup

        log = root / "gunicorn.log"
        gunicorn_environment = project_env(
            **{name: adapt(value) for name, value in web_environment.items()}, PORT=str(gunicorn_port)
        )
        with open(log, "wb") as output:
            server = subprocess.Popen(
                shlex.split(adapt(web["ExecStart"])),
                cwd=adapt(web["WorkingDirectory"]),
                env=gunicorn_environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        environment["MAINPID"] = str(server.pid)
        gunicorn_url = f"http://127.0.0.1:{gunicorn_port}"
        try:
            wait_until(
                lambda: requests.get(f"{gunicorn_url}/readyz", timeout=5).status_code == 200, server, log
            )
            with nginx(project, certificate_file, key_file, https_port, http_port, gunicorn_port) as proxy:
                wait_until(lambda: requests.get(f"{issuer}/healthz", timeout=5).ok, proxy)
                yield Deployment(
                    project,
                    var_lib,
                    issuer,
                    gunicorn_url,
                    server,
                    log,
                    steps,
                    adapt,
                    environment,
                    development_database,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until(ready, process, log=None, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(requests.RequestException):  # a worker still booting, too
            if ready():
                return
        if time.monotonic() > deadline or process.poll() is not None:
            output = log.read_text()[-4000:] if log else ""
            pytest.fail(f"{process.args} never became ready:\n{output}")
        time.sleep(0.2)


@contextlib.contextmanager
def nginx(project, certificate_file, key_file, https_port, http_port, gunicorn_port):
    """nginx as root with deploy/nginx.conf, its ports and paths this machine's, in the foreground."""
    prefix = Path(tempfile.mkdtemp(prefix="deploy-nginx-"))
    prefix.chmod(0o755)  # nginx's workers drop root's rights
    site = (project / "deploy/nginx.conf").read_text()
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{gunicorn_port};"),
        (f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem", str(certificate_file)),
        (f"/etc/letsencrypt/live/{DOMAIN}/privkey.pem", str(key_file)),
        ("/var/log/nginx/", f"{prefix}/"),
    ):
        assert old in site, old
        site = site.replace(old, new)
    # IPv6 is not on every test machine: the loopback addresses above only.
    site = re.sub(r"^ *listen \[::\]:\d+( ssl)?;\n", "", site, flags=re.M)
    (prefix / "site.conf").write_text(site)
    # What Debian's /etc/nginx/nginx.conf does around sites-enabled/, in the prefix.
    temporary_paths = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{ worker_connections 128; }}\n"
        f"http {{\n{temporary_paths}\n    include {prefix}/site.conf;\n}}\n"
    )
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    run([*command, "-t"], cwd=prefix)
    proxy = subprocess.Popen(command, cwd=prefix, stdin=subprocess.DEVNULL)
    try:
        yield proxy
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def test_the_deploy_guide_deploys_a_server_that_passes_its_smoke_test(deployment):
    issuer_line, me_line, ready_line = deployment.run_step(3).splitlines()
    me, ready = json.loads(me_line), json.loads(ready_line)
    # Discovery over https, through nginx, names the pinned issuer.
    assert issuer_line == deployment.issuer
    assert me["client_id"] and me["scope"] == ["read"] and "user" not in me, me
    assert ready == {"status": "ok", "database": "ok", "migrations": "ok", "cache": "ok"}
    metadata = requests.get(f"{deployment.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["issuer"] == deployment.issuer
    assert metadata["token_endpoint"] == f"{deployment.issuer}/o/token/"


def test_production_commands_read_the_environment_file_not_the_development_one(deployment):
    probe = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.OIDC_RSA_PRIVATE_KEY_FILE, settings.SECRET_KEY)"
    )
    engine, key_file, secret_key = deployment.manage("shell", "-c", probe).splitlines()[-1].split()
    development = dict(
        line.split("=", 1) for line in (deployment.project / ".env").read_text().splitlines() if "=" in line
    )
    assert engine == "django.db.backends.postgresql"
    assert key_file == str(deployment.var_lib / "keys/oidc.key")
    assert secret_key != development["DJANGO_SECRET_KEY"]
    development_kid = RSAKey.import_key((deployment.project / "keys/oidc.key").read_bytes()).thumbprint()
    assert development_kid not in kids(deployment)


EXPIRED_TOKEN = """
import secrets
from datetime import timedelta
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
AccessToken = get_access_token_model()
AccessToken.objects.create(
    application=get_application_model().objects.first(),
    token=secrets.token_urlsafe(32),
    expires=timezone.now() - timedelta(days=1),
    scope="read",
)
print(AccessToken.objects.filter(expires__lt=timezone.now()).count())
"""
EXPIRED_COUNT = (
    "from django.utils import timezone; from oauth2_provider.models import get_access_token_model; "
    "print(get_access_token_model().objects.filter(expires__lt=timezone.now()).count())"
)


def test_the_cleanup_timer_and_the_cron_line_clean_the_production_database(deployment):
    project = deployment.project
    cleanup, cleanup_environment = unit(project, f"{SLUG}-cleartokens.service")
    guide = (project / "docs/deploy.md").read_text()
    [(cron_user, cron_command)] = re.findall(r"^\d+ \* \* \* \* (\S+) (.*cleartokens)$", guide, re.M)
    assert cron_user == cleanup["User"] == SLUG

    for how, command in (
        (
            "timer",
            lambda: run(
                shlex.split(deployment.adapt(cleanup["ExecStart"])),
                cwd=deployment.adapt(cleanup["WorkingDirectory"]),
                env=project_env(
                    **{name: deployment.adapt(value) for name, value in cleanup_environment.items()}
                ),
            ),
        ),
        ("cron", lambda: run(["sh", "-c", deployment.adapt(cron_command)], cwd="/", env=project_env())),
    ):
        assert int(deployment.manage("shell", "-c", EXPIRED_TOKEN).split()[-1]) >= 1, how
        command()
        assert deployment.manage("shell", "-c", EXPIRED_COUNT).split()[-1] == "0", how


def machine_client(deployment):
    out = deployment.manage("create_oauth_client", "--name", "Load", "--grant", "client-credentials")
    values = dict(re.findall(r"^(client_id|client_secret)=(\S+)$", out, re.M))
    return values["client_id"], values["client_secret"]


def kids(deployment):
    return [
        key["kid"]
        for key in requests.get(f"{deployment.issuer}/o/.well-known/jwks.json", timeout=10).json()["keys"]
    ]


def reloads(deployment):
    """The HUPs gunicorn's master has handled, from its JSON log."""
    entries = [json.loads(line) for line in deployment.log.read_text().splitlines()]
    return [entry for entry in entries if entry["message"] == "Handling signal: hup"]


def test_key_rotation_through_graceful_reloads_fails_no_request(deployment):
    key_file = deployment.var_lib / "keys/oidc.key"
    old_kid = RSAKey.import_key(key_file.read_bytes()).thumbprint()
    assert kids(deployment) == [old_kid]
    client = machine_client(deployment)
    failures, answered, stop = [], [], threading.Event()

    def traffic():
        session = requests.Session()
        while not stop.is_set():
            try:
                token = session.post(
                    f"{deployment.issuer}/o/token/",
                    data={"grant_type": "client_credentials", "scope": "read"},
                    auth=client,
                    timeout=30,
                )
                me = session.get(
                    f"{deployment.issuer}/api/me/",
                    headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                    timeout=30,
                )
                answered.append((token.status_code, me.status_code))
                if (token.status_code, me.status_code) != (200, 200):
                    failures.append((token.status_code, token.text[:200], me.status_code))
            except (requests.RequestException, ValueError, KeyError) as error:
                failures.append(repr(error))

    clients = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1)
        out = deployment.run_step(4)
        new_kid = RSAKey.import_key(key_file.read_bytes()).thumbprint()
        deadline = time.monotonic() + 60
        while kids(deployment) != [new_kid, old_kid]:
            assert time.monotonic() < deadline, kids(deployment)
            time.sleep(0.2)
        # gunicorn 24 and later handle a HUP once the workers the previous reload replaced have
        # exited (within graceful_timeout): traffic goes on until the second reload is handled.
        while len(reloads(deployment)) < 2:
            assert time.monotonic() < deadline, reloads(deployment)
            time.sleep(0.2)
        time.sleep(2)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert "Signing key rotated" in out
    # Right after a rotation no inactive key is old enough: the command says so.
    assert "Nothing retired" in out
    assert failures == [] and len(answered) > 20, (failures[:5], len(answered))
    assert len(reloads(deployment)) == 2
    entries = [json.loads(line) for line in deployment.log.read_text().splitlines()]
    assert [entry for entry in entries if entry["level"] == "ERROR"] == []


def failed_client_authentications(port, source, forwarded_for, count):
    """POSTs to /o/token/ through nginx from `source`, with wrong credentials; their statuses."""
    # The certificate fixture made SSL_CERT_FILE trust the test's certificate.
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl.create_default_context(), source_address=(source, 0)
    )
    run_id = secrets.token_hex(4)  # Redis keeps each client_id's count for the window
    with contextlib.closing(connection):
        statuses = []
        for number in range(count):
            body = urllib.parse.urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": f"guess-{run_id}-{number}",
                    "client_secret": "x",
                }
            )
            connection.request(
                "POST",
                "/o/token/",
                body,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Forwarded-For": forwarded_for(number),
                },
            )
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        return statuses


def random_loopback_address():
    return f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"


def test_a_spoofed_forwarded_address_does_not_change_the_address_the_limits_count(deployment):
    port = urllib.parse.urlsplit(deployment.issuer).port
    limit = 50  # THROTTLE_CLIENT_FAILURES_PER_IP's default
    attacker = random_loopback_address()
    # A new made-up address in every attempt: the attempts all count against the real one.
    statuses = failed_client_authentications(port, attacker, lambda number: f"198.51.100.{number}", limit + 1)
    assert statuses == [401] * limit + [429]
    # Another client naming the paused address is neither paused nor does it pause anyone.
    assert failed_client_authentications(port, random_loopback_address(), lambda _: attacker, 1) == [401]
    # Straight to gunicorn, bypassing nginx, from an address that is no proxy: the forwarded scheme
    # is not believed, so nothing but a redirect to https answers.
    gunicorn_port = urllib.parse.urlsplit(deployment.gunicorn_url).port
    connection = http.client.HTTPConnection(
        "127.0.0.1", gunicorn_port, source_address=(random_loopback_address(), 0)
    )
    with contextlib.closing(connection):
        connection.request(
            "POST",
            "/o/token/",
            "grant_type=client_credentials",
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "198.51.100.1",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        assert response.status == 301 and response.getheader("Location").startswith("https://")


def test_the_development_database_is_untouched(deployment):
    assert sqlite_state(deployment.project) == deployment.development_database
