"""
The template's fixtures, and the hook that keeps each costly one on one pytest-xdist worker.
The helpers tests import are in support.py, live.py and oauth_helpers.py.
"""

import sys

import pytest

from .live import CHROMIUM, CHROMIUM_ARGS
from .support import (
    DEFAULT_SLUG,
    TEMPLATE_DIR,
    bake,
    free_port,
    fresh_postgres_database,
    project_env,
    read_env_values,
    run,
    running_server,
    runserver_command,
    venv_manage,
)

# Option combinations baked once per session. Each one exercises a different part of the
# templating: a custom slug and zone, scopes with punctuation, characters that need escaping. The
# two switches come in all four combinations (mcp_ready n/y × api_framework none/drf), each
# combination in one set, so that each runs the generated suite once.
OPTION_SETS = {
    "defaults": {},
    # With the sample API on Django REST framework and registration off.
    "custom": {
        "project_name": "Acme Identity",
        "project_slug": "acme_identity",
        "time_zone": "Europe/Paris",
        "domain_name": "login.acme.test",
        "oauth_scopes": "orders:read=See your orders,orders:write=Place orders,profile.avatar=Use your avatar",
        "superuser_username": "root@acme.test",
        "superuser_email": "root@acme.test",
        "api_framework": "drf",
    },
    # With client registration open to MCP clients and agents (RFC 7591), on plain Django views.
    "awkward_text": {
        "project_name": "Bob's Auth & Co <beta>",
        "project_slug": "bobs_auth",
        "description": "Apostrophes ' and {curly} braces, unicode: é, ü, 東京",
        "author_name": "Zoë O'Brien",
        "oauth_scopes": "api=Use the API on your behalf,reports=See reports you've made",
        "mcp_ready": "y",
    },
    # Both: registration and metadata documents, with the sample API on REST framework.
    "mcp_ready_drf": {"mcp_ready": "y", "api_framework": "drf"},
}
# The quick tier (pytest -m "not slow") bakes the defaults only.
QUICK_OPTION_SET = "defaults"


# Which pytest-xdist worker runs a test (--dist loadgroup keeps each xdist_group on one worker).
# A session fixture exists once per worker: a test that uses a costly one runs in its group, so
# the fixture is made once. Most costly first: a test that uses several goes with the first.
SHARED_FIXTURE_GROUPS = {
    # The run_setup=y bake (a virtualenv, migrations, the seeded clients) and its live servers.
    "full_bake": "full_setup",
    # One group per option set: the sets are baked in parallel, each once.
    "baked": "bake",
}


def worker_group(item):
    """The xdist group of a test: that of the first costly session fixture it uses; else its
    file's, so that a module-scoped fixture is made once too; none for a test marked `spread`."""
    for fixture, group in SHARED_FIXTURE_GROUPS.items():
        if fixture in item.fixturenames:
            callspec = getattr(item, "callspec", None)
            parameter = callspec.params.get(fixture) if callspec else None
            return f"{group}-{parameter}" if parameter else group
    if item.get_closest_marker("spread"):
        return None
    return item.path.stem


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Put every test in its worker group, before pytest-xdist reads the groups (its own hook)."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            raise pytest.UsageError(
                f"{item.nodeid} sets an xdist_group marker: tests/conftest.py gives every test its "
                "group (worker_group); add a costly session fixture to SHARED_FIXTURE_GROUPS instead"
            )
        if "full_bake" in item.fixturenames and not item.get_closest_marker("slow"):
            raise pytest.UsageError(
                f"{item.nodeid} uses the full setup's bake (minutes): mark it slow "
                "(pytestmark = pytest.mark.slow), so that the quick tier leaves it out"
            )
        if group := worker_group(item):
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(
    scope="session",
    params=[
        name if name == QUICK_OPTION_SET else pytest.param(name, marks=pytest.mark.slow)
        for name in sorted(OPTION_SETS)
    ],
)
def baked(request, tmp_path_factory):
    """A project baked with run_setup=n for each option set."""
    options = OPTION_SETS[request.param]
    project = bake(tmp_path_factory.mktemp(f"bake-{request.param}"), **options)
    return project, options


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tmp_path_factory.mktemp("keys") / "oidc.key"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


# The full setup: one run_setup=y bake per session, and live servers on it. Every test that uses
# it runs on one worker (the "full_setup" group above), so a single worker bakes it.


@pytest.fixture(scope="session")
def full_bake(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("full")
    result = run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir), str(TEMPLATE_DIR)],
        cwd=output_dir,
        env=project_env(),
        timeout=1200,
    )
    return output_dir / DEFAULT_SLUG, result.stdout


@pytest.fixture(scope="session")
def project(full_bake):
    return full_bake[0]


@pytest.fixture(scope="session")
def env_values(project):
    return read_env_values(project)


@pytest.fixture(scope="session")
def live_server(project):
    """`manage.py runserver` on SQLite, on a free loopback port, issuer pinned to it."""
    port = free_port()
    with running_server(project, runserver_command(project, port), f"http://127.0.0.1:{port}") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_database_url():
    """A fresh PostgreSQL database for this session, dropped at the end."""
    with fresh_postgres_database("template") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_live_server(project, postgres_database_url):
    """`manage.py runserver` on PostgreSQL, set up as the post-generation hook sets up SQLite:
    migrated, with the admin (its address verified) and the seeded clients."""
    setup = (
        ("migrate", "--noinput"),
        ("createsuperuser", "--noinput"),
        ("verify_email",),
        ("seed_oauth_clients",),
    )
    for command in setup:
        venv_manage(project, *command, DATABASE_URL=postgres_database_url)
    port = free_port()
    command = runserver_command(project, port)
    with running_server(
        project, command, f"http://127.0.0.1:{port}", DATABASE_URL=postgres_database_url
    ) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_database(request):
    """The database of the live server a test runs against: each in turn."""
    return request.param


@pytest.fixture(scope="session")
def any_live_server(request, live_database, full_bake):
    """Each live server in turn, for tests that must hold on both databases. (It names full_bake,
    which both servers run: a fixture reached through request.getfixturevalue is missing from
    item.fixturenames, which worker_group reads.)"""
    return request.getfixturevalue(
        {"sqlite": "live_server", "postgresql": "postgres_live_server"}[live_database]
    )


@pytest.fixture(scope="session")
def live_database_env(request, live_database):
    """The environment a `venv_manage` command needs to work on `any_live_server`'s database."""
    if live_database == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_database_url")}


# The browser tests' headless Chromium (Debian's: Playwright cannot download one here).


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.is_file():
        pytest.skip(
            f"SKIPPED LOUDLY: no browser at {CHROMIUM}; install it with "
            "`apt-get update && apt-get install -y chromium` (.ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    yield context.new_page()
    context.close()
