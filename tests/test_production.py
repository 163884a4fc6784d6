"""
Production settings on gunicorn, several workers sharing nothing but the database: what a deploy
runs, driven over HTTPS on loopback, on PostgreSQL (and Redis where a test says so).

gunicorn terminates TLS itself here, with a certificate made for 127.0.0.1, so the production
settings run unchanged: https redirects, Secure cookies, CSRF's Referer checks.
"""

import base64
import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, RSAKey

from .live import checked, loopback_certificate, query_of, register_client, sign_in, submit
from .oauth_helpers import authorization_params, token_request
from .support import (
    bake,
    free_port,
    fresh_postgres_database,
    postgres_admin,
    postgres_url,
    read_env_values,
    running_server,
    venv_manage,
)

pytestmark = pytest.mark.slow

PRODUCTION = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
# Production allows https redirect URIs only. Nothing is ever sent there: the tests read the
# authorization response from the Location header.
RP_REDIRECT_URI = "https://rp.example/callback"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A run_setup=n bake whose .venv is the template's environment (it has the project's dependencies),
    with a signing key and the static files collected, as the deploy steps say."""
    path = bake(tmp_path_factory.mktemp("production"))
    (path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    venv_manage(path, "create_oidc_key")
    # Production settings read no .env: every variable they need is given.
    venv_manage(
        path,
        "collectstatic",
        "--noinput",
        **production_environment(path),
        DATABASE_URL=postgres_url("collectstatic_connects_to_no_database"),
        OAUTH_ISSUER="https://127.0.0.1",
    )
    return path


def production_environment(project):
    """Production settings with the bake's own secret key, given explicitly as on a server."""
    lines = (project / ".env").read_text().splitlines()
    [secret_key] = [line.partition("=")[2] for line in lines if line.startswith("DJANGO_SECRET_KEY=")]
    # No e-mail leaves in these tests: a mail server that is not there.
    return {**PRODUCTION, "DJANGO_SECRET_KEY": secret_key, "EMAIL_URL": "smtp://127.0.0.1:1"}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, trusted by urllib and requests in this process."""
    certificate_file, key_file = loopback_certificate(tmp_path_factory.mktemp("tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(certificate_file))
        patch.setenv("REQUESTS_CA_BUNDLE", str(certificate_file))
        yield [f"--certfile={certificate_file}", f"--keyfile={key_file}"]


@pytest.fixture(scope="module")
def env_values(project):
    return read_env_values(project)


@pytest.fixture(scope="module")
def database(project):
    """A fresh PostgreSQL database, migrated, with the admin user."""
    with fresh_postgres_database("production") as url:
        for command in (("migrate", "--noinput"), ("createsuperuser", "--noinput")):
            venv_manage(project, *command, DATABASE_URL=url)
        yield url


def gunicorn(project, port, workers, *options):
    return [
        str(project / ".venv/bin/gunicorn"),
        "--config=gunicorn.conf.py",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        *options,
        "config.wsgi",
    ]


@pytest.fixture(scope="module")
def production_server(project, certificate):
    """gunicorn with the project's gunicorn.conf.py and production settings on a free loopback port,
    over TLS: `with production_server(database_url, workers, *gunicorn_options) as base_url`."""

    @contextlib.contextmanager
    def serve(database_url, workers, *options, output=None, **env):
        port = free_port()
        command = gunicorn(project, port, workers, *certificate, *options)
        base_url = f"https://127.0.0.1:{port}"
        with running_server(
            project,
            command,
            base_url,
            output,
            **production_environment(project),
            DATABASE_URL=database_url,
            **env,
        ):
            yield base_url

    return serve


@dataclass(frozen=True)
class Clients:
    """A web client and a machine client of a test's own; `values` is shaped like .env for oauth_helpers."""

    values: dict
    machine: tuple[str, str]

    @property
    def web(self):
        return self.values["OAUTH_DEMO_CLIENT_ID"], self.values["OAUTH_DEMO_CLIENT_SECRET"]


def register_clients(project, database_url, env_values, name):
    web_id, web_secret = f"{name}-web-{secrets.token_hex(4)}", secrets.token_urlsafe(48)
    machine_id, machine_secret = f"{name}-machine-{secrets.token_hex(4)}", secrets.token_urlsafe(48)
    database_env = {"DATABASE_URL": database_url}
    register_client(
        project,
        database_env,
        client_id=web_id,
        client_secret=web_secret,
        name=f"{name} web client",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=RP_REDIRECT_URI,
        algorithm="RS256",
        allowed_scopes="openid profile email read",
    )
    register_client(
        project,
        database_env,
        client_id=machine_id,
        client_secret=machine_secret,
        name=f"{name} machine client",
        client_type="confidential",
        authorization_grant_type="client-credentials",
        allowed_scopes="read",
        # It introspects tokens (RFC 7662): a resource server.
        is_resource_server=True,
    )
    values = {
        **env_values,
        "OAUTH_DEMO_CLIENT_ID": web_id,
        "OAUTH_DEMO_CLIENT_SECRET": web_secret,
        "OAUTH_DEMO_REDIRECT_URI": RP_REDIRECT_URI,
    }
    return Clients(values, (machine_id, machine_secret))


def allow(browser, consent_page):
    """Allow on the consent page; return the authorization response (the redirect is not followed)."""
    answer = submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False)
    assert answer.status_code == 302, answer.text[:3000]
    return query_of(answer.headers["Location"])


def authorization_url(base_url, params):
    return f"{base_url}/o/authorize/?{urllib.parse.urlencode(params)}"


def redeem(base_url, clients, answer, verifier):
    response = token_request(
        base_url,
        clients.values,
        grant_type="authorization_code",
        code=answer["code"],
        redirect_uri=RP_REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh(base_url, clients, refresh_token):
    response = token_request(
        base_url, clients.values, grant_type="refresh_token", refresh_token=refresh_token
    )
    assert response.status_code == 200, response.text
    return response.json()


def sign_in_and_get_tokens(base_url, clients, token_url=None):
    """The authorization-code flow in a fresh browser; the code is redeemed at `token_url`'s server."""
    params, verifier = authorization_params(clients.values)
    browser = checked()
    consent_page = sign_in(browser, browser.get(authorization_url(base_url, params)), clients.values)
    return redeem(token_url or base_url, clients, allow(browser, consent_page), verifier)


def client_credentials(base_url, clients):
    response = checked().post(
        f"{base_url}/o/token/",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=clients.machine,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def me(base_url, token):
    return checked().get(f"{base_url}/api/me/", headers={"Authorization": f"Bearer {token}"})


def jwks(base_url):
    return checked().get(f"{base_url}/o/.well-known/jwks.json").json()


def verified_claims(id_token, key_set):
    return jwt.decode(id_token, KeySet.import_key_set(key_set), algorithms=["RS256"]).claims


def unverified_part(token, index):
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def thumbprint(key_file):
    return RSAKey.import_key(key_file.read_bytes()).thumbprint()


def checksum(token):
    return hashlib.sha256(token.encode()).hexdigest()


def log_entries(path):
    """The server's output, every line of which must be one JSON object."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_workers_share_nothing_but_the_database_and_sign_with_one_key(
    production_server, project, database, env_values
):
    clients = register_clients(project, database, env_values, "keys")
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(production_server(database, 1))
        # One issuer, as behind a load balancer; three separate server processes.
        servers = [
            first,
            *(stack.enter_context(production_server(database, 1, OAUTH_ISSUER=first)) for _ in range(2)),
        ]
        key_sets = [jwks(server) for server in servers]
        assert key_sets[0] == key_sets[1] == key_sets[2]
        for index, server in enumerate(servers):
            # Signed in and consented on one process, the code redeemed at the next.
            id_token = sign_in_and_get_tokens(server, clients, servers[(index + 1) % 3])["id_token"]
            for key_set in key_sets:
                claims = verified_claims(id_token, key_set)
                assert claims["iss"] == first and claims["aud"] == clients.web[0]


USERS = 8  # browsers signed in at once, each running ROUNDS authorization-code flows
ROUNDS = 3
REFRESHES = 2  # per flow, each rotating the refresh token
MACHINES = 4  # machine clients at once, each asking for MACHINE_TOKENS tokens
MACHINE_TOKENS = 8
LOAD_SECONDS = 120  # no client starts a new flow after this


@dataclass
class Ledger:
    """What the server told the clients, from every thread (list.append is atomic)."""

    access_tokens: list = field(default_factory=list)
    live_access_tokens: list = field(default_factory=list)
    refresh_tokens: list = field(default_factory=list)
    rotated_refresh_tokens: list = field(default_factory=list)
    id_tokens: list = field(default_factory=list)
    flows: list = field(default_factory=list)

    def issued(self, tokens):
        self.access_tokens.append(tokens["access_token"])
        self.refresh_tokens.append(tokens["refresh_token"])
        self.id_tokens.append(tokens["id_token"])


def user_session(base_url, clients, ledger, deadline):
    """One browser: signs in once, then runs ROUNDS flows, each refreshed REFRESHES times."""
    browser = checked()
    username = clients.values["DJANGO_SUPERUSER_USERNAME"]
    for round_number in range(ROUNDS):
        if time.monotonic() > deadline:
            return
        params, verifier = authorization_params(clients.values)
        page = browser.get(authorization_url(base_url, params))
        consent_page = sign_in(browser, page, clients.values) if round_number == 0 else page
        tokens = redeem(base_url, clients, allow(browser, consent_page), verifier)
        ledger.issued(tokens)
        for _ in range(REFRESHES):
            refreshed = refresh(base_url, clients, tokens["refresh_token"])
            ledger.issued(refreshed)
            ledger.rotated_refresh_tokens.append(tokens["refresh_token"])
            # Rotation deleted the access token it replaced; the new one works.
            assert me(base_url, tokens["access_token"]).status_code == 401
            tokens = refreshed
            answer = me(base_url, tokens["access_token"])
            assert answer.status_code == 200 and answer.json()["user"]["username"] == username, answer.text
        ledger.live_access_tokens.append(tokens["access_token"])
        ledger.flows.append(username)


def machine_session(base_url, clients, ledger, deadline):
    for _ in range(MACHINE_TOKENS):
        if time.monotonic() > deadline:
            return
        token = client_credentials(base_url, clients)
        ledger.access_tokens.append(token)
        ledger.live_access_tokens.append(token)
        answer = me(base_url, token)
        assert answer.status_code == 200 and answer.json()["client_id"] == clients.machine[0], answer.text


DATABASE_STATE = """
import json, os
from oauth2_provider import models
applications = models.get_application_model().objects.filter(client_id__in=os.environ["PROBE_CLIENTS"].split())
def rows(model):
    return model.objects.filter(application__in=applications)
print(json.dumps({
    "access": sorted(rows(models.get_access_token_model()).values_list("token_checksum", flat=True)),
    "refresh": sorted(rows(models.get_refresh_token_model()).values_list("token_checksum", flat=True)),
    "revoked": sorted(
        rows(models.get_refresh_token_model()).filter(revoked__isnull=False).values_list("token_checksum", flat=True)
    ),
    "id": sorted(str(jti) for jti in rows(models.get_id_token_model()).values_list("jti", flat=True)),
    "grants": rows(models.get_grant_model()).count(),
}))
"""


def test_load_on_four_workers_loses_and_duplicates_nothing(
    production_server, project, database, env_values, tmp_path
):
    clients = register_clients(project, database, env_values, "load")
    ledger = Ledger()
    log = tmp_path / "server.log"
    with production_server(database, 4, output=log) as base_url:
        deadline = time.monotonic() + LOAD_SECONDS
        with ThreadPoolExecutor(USERS + MACHINES) as pool:
            sessions = [pool.submit(user_session, base_url, clients, ledger, deadline) for _ in range(USERS)]
            sessions += [
                pool.submit(machine_session, base_url, clients, ledger, deadline) for _ in range(MACHINES)
            ]
            for session in sessions:
                session.result()
    assert ledger.flows, "not one flow finished in time"

    answered = [entry for entry in log_entries(log) if "status" in entry]
    assert len(answered) > USERS * 10
    assert [entry for entry in answered if entry["status"] >= 500] == []
    for tokens in (ledger.access_tokens, ledger.refresh_tokens, ledger.id_tokens):
        assert len(set(tokens)) == len(tokens), "the server handed out the same token twice"

    client_ids = f"{clients.web[0]} {clients.machine[0]}"
    probe = venv_manage(
        project, "shell", "-c", DATABASE_STATE, DATABASE_URL=database, PROBE_CLIENTS=client_ids
    )
    state = json.loads(probe.stdout.splitlines()[-1])
    assert state["access"] == sorted(map(checksum, ledger.live_access_tokens))
    assert state["refresh"] == sorted(map(checksum, ledger.refresh_tokens))
    assert state["revoked"] == sorted(map(checksum, ledger.rotated_refresh_tokens))
    assert state["id"] == sorted(unverified_part(token, 1)["jti"] for token in ledger.id_tokens)
    assert state["grants"] == 0, "every authorization code was redeemed, and redeeming deletes it"


def readiness(base_url, probe="/readyz"):
    """What a load balancer sees: 503 is an answer here, not a failure of the test."""
    response = requests.get(base_url + probe, timeout=30)
    return response.status_code, response.json()


def test_readiness_fails_while_the_database_is_gone(production_server, project):
    with fresh_postgres_database("readiness") as url:
        venv_manage(project, "migrate", "--noinput", DATABASE_URL=url)
        with production_server(url, 1) as base_url:
            assert readiness(base_url) == (
                200,
                {"status": "ok", "database": "ok", "migrations": "ok", "cache": "ok"},
            )
            with postgres_admin() as admin:
                admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            for probe in ("/readyz", "/healthz"):
                status, body = readiness(base_url, probe)
                assert (status, body["database"]) == (503, "OperationalError"), probe


def test_readiness_fails_while_migrations_are_pending(production_server, project):
    with fresh_postgres_database("unmigrated") as url, production_server(url, 1) as base_url:
        status, body = readiness(base_url)
        assert status == 503
        assert body["migrations"].endswith(" pending") and body["database"] == "ok"
        # Alive all the same: a restart would not help, a migration will.
        assert readiness(base_url, "/healthz")[0] == 200


def test_a_redis_cache_is_shared_by_every_process(production_server, project, database):
    redis = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((redis.hostname, redis.port), timeout=2).close()
    except OSError as error:
        pytest.skip(f"SKIPPED LOUDLY: no Redis answers at {REDIS_URL}: {error}")
    key, value = f"template-test:{secrets.token_hex(8)}", secrets.token_hex(8)
    write = f"from django.core.cache import cache; cache.set({key!r}, {value!r}, 60)"
    read = (
        "from django.core.cache import cache, caches; backend = type(caches['default']); "
        f"print(backend.__module__ + '.' + backend.__name__, cache.get({key!r}))"
    )
    venv_manage(project, "shell", "-c", write, CACHE_URL=REDIS_URL)
    answer = venv_manage(project, "shell", "-c", read, CACHE_URL=REDIS_URL).stdout.splitlines()[-1].split()
    assert answer == ["django.core.cache.backends.redis.RedisCache", value]
    with production_server(database, 2, CACHE_URL=REDIS_URL) as base_url:
        assert readiness(base_url) == (
            200,
            {"status": "ok", "database": "ok", "migrations": "ok", "cache": "ok"},
        )


def test_a_rotated_key_stays_published_until_retired_through_graceful_reloads(
    production_server, project, database, env_values, tmp_path
):
    key_file = tmp_path / "keys" / "oidc.key"
    keys = {"OIDC_RSA_PRIVATE_KEY_FILE": str(key_file)}
    venv_manage(project, "create_oidc_key", "--path", str(key_file))
    clients = register_clients(project, database, env_values, "rotation")
    pid_file = tmp_path / "gunicorn.pid"
    with production_server(database, 2, f"--pid={pid_file}", **keys) as base_url:

        def reload_until(published_kids):
            """kill -HUP, as the README says: gunicorn replaces its workers, which read the keys anew."""
            os.kill(int(pid_file.read_text()), signal.SIGHUP)
            deadline = time.monotonic() + 30
            while published_kids_now() != published_kids:
                assert time.monotonic() < deadline, f"the JWKS never became {published_kids}"
                time.sleep(0.2)

        def published_kids_now():
            # An old worker on its way out may drop a connection it accepted, as a load
            # balancer would see during any reload: ask again.
            try:
                return [key["kid"] for key in jwks(base_url)["keys"]]
            except requests.ConnectionError:
                return None

        before = sign_in_and_get_tokens(base_url, clients)["id_token"]
        # DOT's kid is the key's RFC 7638 thumbprint, in the JWKS and in the ID token header.
        old_kid = thumbprint(key_file)
        assert [key["kid"] for key in jwks(base_url)["keys"]] == [old_kid]
        assert unverified_part(before, 0)["kid"] == old_kid

        venv_manage(project, "rotate_oidc_key", **keys)
        new_kid = thumbprint(key_file)
        reload_until([new_kid, old_kid])
        key_set = jwks(base_url)
        assert verified_claims(before, key_set)["aud"] == clients.web[0]
        after = sign_in_and_get_tokens(base_url, clients)["id_token"]
        assert unverified_part(after, 0)["kid"] == new_kid
        assert verified_claims(after, key_set)["aud"] == clients.web[0]

        venv_manage(project, "retire_oidc_keys", "--older-than", "0", **keys)
        reload_until([new_kid])
        with pytest.raises(InvalidKeyIdError):
            verified_claims(before, jwks(base_url))


def test_logs_are_json_lines_with_request_ids_and_never_a_secret(
    production_server, project, database, env_values, tmp_path
):
    clients = register_clients(project, database, env_values, "logs")
    # Trust authentication ignores it, but it is in DATABASE_URL like any real password.
    database_password = secrets.token_urlsafe(16)
    database_url = database.replace("//postgres@", f"//postgres:{database_password}@")
    log = tmp_path / "server.log"
    with production_server(database_url, 2, output=log, DJANGO_LOG_LEVEL="DEBUG") as base_url:
        params, verifier = authorization_params(clients.values)
        browser = checked()
        answer = allow(
            browser, sign_in(browser, browser.get(authorization_url(base_url, params)), clients.values)
        )
        tokens = redeem(base_url, clients, answer, verifier)
        refreshed = refresh(base_url, clients, tokens["refresh_token"])
        machine_token = client_credentials(base_url, clients)
        traced = checked().get(
            f"{base_url}/api/me/",
            headers={"Authorization": f"Bearer {refreshed['access_token']}", "X-Request-ID": "edge-1234"},
        )
        assert (traced.status_code, traced.headers["X-Request-ID"]) == (200, "edge-1234")
        introspected = checked().post(
            f"{base_url}/o/introspect/", data={"token": machine_token}, auth=clients.machine
        )
        assert introspected.json()["active"] is True
        revoked = checked().post(
            f"{base_url}/o/revoke_token/", data={"token": refreshed["refresh_token"]}, auth=clients.web
        )
        assert revoked.status_code == 200
        wrong = {
            "grant_type": "client_credentials",
            "client_id": clients.machine[0],
            "client_secret": "wrong-1x",
        }
        assert checked().post(f"{base_url}/o/token/", data=wrong).status_code == 401

    entries = log_entries(log)
    [traced_line] = [entry for entry in entries if entry.get("path") == "/api/me/"]
    assert traced_line["request_id"] == "edge-1234" and traced_line["status"] == 200
    assert {entry["logger"] for entry in entries} >= {
        "gunicorn.error",
        "authserver.middleware.request_logging",
    }
    used = {
        "admin password": env_values["DJANGO_SUPERUSER_PASSWORD"],
        "secret key": env_values["DJANGO_SECRET_KEY"],
        "database password": database_password,
        "web client secret": clients.web[1],
        "machine client secret": clients.machine[1],
        "wrong client secret": "wrong-1x",
        "authorization code": answer["code"],
        "code verifier": verifier,
        **{name: tokens[name] for name in ("access_token", "refresh_token", "id_token")},
        **{f"refreshed {name}": refreshed[name] for name in ("access_token", "refresh_token", "id_token")},
        "machine token": machine_token,
    }
    text = log.read_text()
    assert [name for name, value in used.items() if value in text] == []


def test_static_files_are_served_by_whitenoise_with_far_future_caching(production_server, project, database):
    manifest = json.loads((project / "staticfiles/staticfiles.json").read_text())["paths"]
    hashed = f"/static/{manifest['css/site.css']}"
    with production_server(database, 1) as base_url:
        assert hashed in checked().get(f"{base_url}/accounts/login/").text
        response = checked().get(base_url + hashed, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert (
        "immutable" in response.headers["Cache-Control"]
        and "max-age=315360000" in response.headers["Cache-Control"]
    )


def test_the_procfile_command_honours_port_and_web_concurrency(project, database, tmp_path):
    web = (project / "Procfile").read_text().partition("web:")[2].strip()
    port, pid_file = free_port(), tmp_path / "web.pid"
    environment = {
        "PATH": f"{project / '.venv/bin'}:{os.environ['PATH']}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "3",
        # Only to find the master process: gunicorn reads extra options from here.
        "GUNICORN_CMD_ARGS": f"--pid={pid_file}",
        "DATABASE_URL": database,
        "OAUTH_ISSUER": f"https://127.0.0.1:{port}",
        **production_environment(project),
    }
    with running_server(project, ["bash", "-c", f"exec {web}"], f"http://127.0.0.1:{port}", **environment):
        master = pid_file.read_text().strip()
        workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(workers) == 3
