"""Bakes with run_setup=n, for several option sets: files, lint, Django checks, the generated tests."""

import ast
import re
import stat
import subprocess
import sys

import pytest

from .support import SECRET_KEYS, TEMPLATE_DIR, bake, manage, project_env, run

# Django templates use {% %} too: look for what only Jinja in this template would leave.
TEMPLATE_LEFTOVER = re.compile(r"{{-?\s*cookiecutter|(?<![.\w])cookiecutter\.\w|{%-?\s*(end)?raw\s*-?%}")


GENERATED_BY_RUNS = {"__pycache__", ".pytest_cache", ".ruff_cache", "staticfiles"}


def baked_files(project):
    """The files the bake wrote, not those that running its tests or tools left behind."""
    return [
        path
        for path in project.rglob("*")
        if path.is_file()
        and not GENERATED_BY_RUNS.intersection(path.relative_to(project).parts)
        and not path.name.startswith("db.sqlite3")
    ]


def read_env(path):
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return dict(pairs)


def test_layout(baked):
    project, options = baked
    slug = options.get("project_slug", "my_authorization_server")
    assert project.name == slug
    for relative in (
        "manage.py",
        "config/settings/base.py",
        "config/settings/local.py",
        "config/settings/production.py",
        "config/settings/test.py",
        "config/urls.py",
        "config/wsgi.py",
        # The owner's package.
        f"{slug}/adapter.py",
        f"{slug}/users/models.py",
        f"{slug}/api/views.py",
        f"{slug}/pages/views.py",
        "templates/base.html",
        # The engine.
        *(
            f"authserver/{module}.py"
            for module in (
                "adapter",
                "view_policy",
                "server",
                "validator",
                "claims",
                "authentication_context",
                "token_cache",
                "endpoints/authorization",
                "endpoints/token",
                "endpoints/revocation",
                "endpoints/introspection",
                "endpoints/device",
                "endpoints/userinfo",
                "endpoints/logout",
                "endpoints/discovery",
                "endpoints/probes",
                "middleware/request_logging",
                "middleware/security_headers",
                "middleware/throttling",
                "middleware/outages",
            )
        ),
        "authserver/templates/oauth2_provider/authorize.html",
        "tests/conftest.py",
        "tests/support.py",
        "pyproject.toml",
        ".env.example",
        ".gitignore",
        ".pre-commit-config.yaml",
        "Procfile",
        "gunicorn.conf.py",
        "deploy/nginx.conf",
        f"deploy/systemd/{slug}.service",
        f"deploy/systemd/{slug}-cleartokens.service",
        f"deploy/systemd/{slug}-cleartokens.timer",
        "README.md",
        # The docs the README indexes, and the test that keeps every pointer into them true.
        *(f"docs/{page}.md" for page in ("layout", "customising", "deploy", "security", "conformance")),
        "tests/test_docs.py",
    ):
        assert (project / relative).is_file(), relative


# Jinja in the template's Python: the package's name, rendered where the project imports or names
# its own package (after baking it is plain Python); settings values in base.py alone.
PACKAGE_NAME = re.compile(r"{{ cookiecutter\.project_slug }}")
ANY_TEMPLATE_SYNTAX = re.compile(r"{{.*?}}|{%.*?%}", re.S)


def test_template_python_files_parse_before_baking():
    sources = sorted((TEMPLATE_DIR / "{{cookiecutter.project_slug}}").rglob("*.py"))
    assert len(sources) > 40
    for path in sources:
        text = path.read_text(encoding="utf-8")
        relative = str(path.relative_to(TEMPLATE_DIR))
        if not relative.endswith("config/settings/base.py"):
            leftover = ANY_TEMPLATE_SYNTAX.findall(PACKAGE_NAME.sub("", text))
            assert not leftover, f"{relative}: template syntax other than the package name: {leftover}"
        # What tools see once the package's name is rendered.
        ast.parse(
            ANY_TEMPLATE_SYNTAX.sub("rendered", PACKAGE_NAME.sub("my_package", text)), filename=relative
        )


def test_the_engine_is_the_same_in_every_bake(tmp_path):
    """authserver/ is copied, never rendered: a template update reaches it whole (cruft update)."""
    engines = []
    other_answers = {"project_name": "Acme Identity", "project_slug": "acme_identity", "mcp_ready": "y"}
    for options in ({}, {**other_answers, "api_framework": "drf", "oauth_scopes": "orders:read=See orders"}):
        engine = bake(tmp_path / str(len(engines)), **options) / "authserver"
        engines.append(
            {path.relative_to(engine): path.read_bytes() for path in engine.rglob("*") if path.is_file()}
        )
    assert len(engines[0]) > 50
    assert engines[0] == engines[1]
    assert engines[0] == {
        path.relative_to(TEMPLATE_DIR / "{{cookiecutter.project_slug}}/authserver"): path.read_bytes()
        for path in (TEMPLATE_DIR / "{{cookiecutter.project_slug}}/authserver").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_no_template_syntax_is_left(baked):
    project, _ = baked
    for path in baked_files(project):
        text = path.read_text(encoding="utf-8")
        assert not TEMPLATE_LEFTOVER.search(text), f"template syntax left in {path.relative_to(project)}"


def test_env_file_has_fresh_private_secrets(baked):
    project, options = baked
    env_file = project / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env(env_file)
    for key in SECRET_KEYS:
        assert len(values[key]) >= 24, key
    assert values["DJANGO_SUPERUSER_USERNAME"] == options.get("superuser_username", "admin")
    example = read_env(project / ".env.example")
    assert all(example[key] == "" for key in SECRET_KEYS), ".env.example must not carry secrets"


def test_two_bakes_never_share_a_secret(tmp_path):
    first = read_env(bake(tmp_path / "one") / ".env")
    second = read_env(bake(tmp_path / "two") / ".env")
    for key in SECRET_KEYS:
        assert first[key] != second[key], key


def test_ruff_lint_and_format(baked):
    project, _ = baked
    run([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    run([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)


def test_pre_commit_config_is_valid_and_free_of_template_syntax(baked):
    project, _ = baked
    config = project / ".pre-commit-config.yaml"
    run([sys.executable, "-m", "pre_commit", "validate-config", str(config)], cwd=project)
    template_config = (project.parent / project.name / ".pre-commit-config.yaml").read_text()
    assert "{{" not in template_config


def test_pre_commit_tools_pass(baked):
    # The hook repositories cannot be cloned here, so run each tool the config names directly.
    project, _ = baked
    files = [str(path.relative_to(project)) for path in baked_files(project) if path.name != ".env"]
    python_files = [name for name in files if name.endswith(".py")]
    bin_dir = f"{sys.prefix}/bin"
    # check-added-large-files and check-merge-conflict need a git repository: the full setup's
    # test runs them.
    run([f"{bin_dir}/detect-private-key", *files], cwd=project)
    run([f"{bin_dir}/check-yaml", ".pre-commit-config.yaml"], cwd=project)
    run([f"{bin_dir}/check-toml", "pyproject.toml"], cwd=project)
    run([f"{bin_dir}/end-of-file-fixer", *files], cwd=project)
    run([f"{bin_dir}/trailing-whitespace-fixer", *files], cwd=project)
    run([f"{bin_dir}/django-upgrade", "--target-version", "5.2", *python_files], cwd=project)


def test_django_checks_and_migrations(baked, signing_key_file):
    project, _ = baked
    env = {"OIDC_RSA_PRIVATE_KEY_FILE": str(signing_key_file)}
    manage(project, "check", "--fail-level", "WARNING", **env)
    manage(project, "makemigrations", "--check", "--dry-run", **env)


def test_deploy_checks_pass_under_production_settings(baked, signing_key_file, tmp_path):
    project, options = baked
    domain = options.get("domain_name", "auth.example.com")
    manage(
        project,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_ENV_FILE="/dev/null",
        DJANGO_SECRET_KEY="production-like-" + "k3y" * 20,
        DJANGO_ALLOWED_HOSTS=domain,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        OAUTH_ISSUER=f"https://{domain}",
        EMAIL_URL=f"smtp+tls://mailer:secret@smtp.{domain}:587",
        CACHE_URL="redis://127.0.0.1:6379/0",
        OIDC_RSA_PRIVATE_KEY_FILE=str(signing_key_file),
    )


def test_generated_test_suite_passes(baked):
    # The template's test environment carries the project's dependencies, so a bake made with
    # run_setup=n can run its own tests here; the full setup runs them in the project's venv.
    project, _ = baked
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=project_env()
    )
    assert " passed" in result.stdout
    # An in-memory SQLite URL (sqlite://:memory:) is no file in the project folder.
    assert not (project / ":memory:").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("project_slug", "django", "clashes with a Python module"),
        ("project_slug", "authserver", "clashes with a Python module"),
        ("project_slug", "My-Project", "not a lowercase Python identifier"),
        ("oauth_scopes", "openid=Sign in", "reserved"),
        ("oauth_scopes", "read=Read,read=Again", "listed twice"),
        ("oauth_scopes", "read", "name=Description"),
        ("author_email", "not-an-email", "not a valid e-mail address"),
        ("time_zone", "Mars/Olympus", "not an IANA time zone"),
        ("run_setup", "maybe", "use y to set everything up now or n"),
        ("api_framework", "ninja", "is not an API framework; use none"),
    ],
)
def test_invalid_input_fails_before_anything_is_written(tmp_path, option, value, message):
    result = subprocess_cookiecutter(tmp_path, f"{option}={value}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr
    assert option in errors[0] and message in errors[0]
    assert list(tmp_path.iterdir()) == [], "nothing may be written"


def subprocess_cookiecutter(output_dir, *assignments):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(output_dir),
            str(TEMPLATE_DIR),
            *assignments,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=project_env(),
    )


@pytest.mark.parametrize(("page", "at_least"), [("conformance", 50), ("security", 30)])
def test_every_conformance_row_names_a_real_test(baked, page, at_least):
    project, _ = baked
    table = (project / "docs" / f"{page}.md").read_text()
    references = re.findall(r"`(template: )?(tests/[\w/]+\.py)::(\w+)`", table)
    assert len(references) > at_least
    for in_template, path, name in references:
        test_file = (TEMPLATE_DIR if in_template else project) / path
        assert re.search(rf"^def {name}\(", test_file.read_text(), re.M), f"{path}::{name} does not exist"
