"""
Revocation stays instant with the cache of validated tokens (the engine's authserver/token_cache.py),
across the workers of gunicorn: once the revocation endpoint, or a refresh that rotates, has
answered, no worker accepts the token, at /api/me/ or at introspection, on SQLite and PostgreSQL.

Every worker has validated the token (and cached it) before the change; every request goes on a
new connection, from several threads at once, so that the workers all take their turn.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from .live import checked
from .oauth_helpers import authorize, token_request
from .support import free_port, fresh_postgres_database, running_server, venv_manage

pytestmark = pytest.mark.slow

WORKERS = 4
# Requests per check, spread over the workers: far more than enough for each to answer some.
REQUESTS = 64
THREADS = 8


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_env(request, project, env_values):
    if request.param == "sqlite":
        # The full bake's own database, migrated and seeded by its setup.
        yield {}
        return
    with fresh_postgres_database("token_cache") as url:
        for command in (("migrate", "--noinput"), ("createsuperuser", "--noinput"), ("seed_oauth_clients",)):
            venv_manage(project, *command, DATABASE_URL=url)
        yield {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def server(project, database_env):
    port = free_port()
    command = [
        str(project / ".venv/bin/gunicorn"),
        "--config=gunicorn.conf.py",
        f"--workers={WORKERS}",
        f"--bind=127.0.0.1:{port}",
        "config.wsgi",
    ]
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.local", **database_env}
    with running_server(project, command, f"http://127.0.0.1:{port}", **env) as url:
        yield url


def m2m_credentials(env_values):
    return env_values["OAUTH_M2M_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_SECRET"]


def api_me(server, access_token):
    session = checked()
    response = session.get(
        f"{server}/api/me/",
        headers={"Authorization": f"Bearer {access_token}", "Connection": "close"},
        timeout=30,
    )
    return response.status_code


def introspection(server, env_values, access_token):
    session = checked()
    response = session.post(
        f"{server}/o/introspect/",
        data={"token": access_token},
        auth=m2m_credentials(env_values),
        headers={"Connection": "close"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["active"]


def on_every_worker(check):
    """`check()` REQUESTS times from THREADS threads at once; the set of its answers."""
    with ThreadPoolExecutor(THREADS) as pool:
        return set(pool.map(lambda _: check(), range(REQUESTS)))


def test_a_revoked_token_is_refused_by_every_worker_at_once(server, env_values):
    access_token = (
        checked()
        .post(
            f"{server}/o/token/",
            data={"grant_type": "client_credentials", "scope": "read"},
            auth=m2m_credentials(env_values),
            timeout=30,
        )
        .json()["access_token"]
    )
    assert on_every_worker(lambda: api_me(server, access_token)) == {200}
    assert on_every_worker(lambda: introspection(server, env_values, access_token)) == {True}

    revoked = checked().post(
        f"{server}/o/revoke_token/",
        data={"token": access_token},
        auth=m2m_credentials(env_values),
        timeout=30,
    )
    assert revoked.status_code == 200

    assert on_every_worker(lambda: api_me(server, access_token)) == {401}
    assert on_every_worker(lambda: introspection(server, env_values, access_token)) == {False}


def test_a_rotated_refresh_token_takes_its_access_token_along_on_every_worker(server, env_values):
    code, verifier, redirect_uri = authorize(server, env_values)
    tokens = token_request(
        server,
        env_values,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
    ).json()
    assert on_every_worker(lambda: api_me(server, tokens["access_token"])) == {200}

    rotated = token_request(
        server, env_values, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert rotated.status_code == 200, rotated.text

    assert on_every_worker(lambda: api_me(server, tokens["access_token"])) == {401}
    assert on_every_worker(lambda: api_me(server, rotated.json()["access_token"])) == {200}
