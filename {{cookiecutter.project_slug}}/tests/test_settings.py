"""Production settings: refuse to start unconfigured, pass the deploy checklist when configured."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent


def manage(*args, **environment):
    # A clean environment, as on a server: nothing from the project's .env may count.
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ENV_FILE": os.devnull,
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def signing_key_file(tmp_path_factory):
    """One signing key for the module's tests, made by the project's command: every run of
    manage.py starts Django, about half a second."""
    key_file = tmp_path_factory.mktemp("keys") / "oidc.key"
    subprocess.run(
        [sys.executable, "manage.py", "create_oidc_key", "--path", str(key_file)],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        check=True,
        capture_output=True,
    )
    return key_file


@pytest.fixture
def production_environment(tmp_path, signing_key_file):
    return {
        "DJANGO_SECRET_KEY": "a" * 10 + "production-like-secret-key-with-enough-entropy-0123456789",
        "DJANGO_ALLOWED_HOSTS": "auth.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "OAUTH_ISSUER": "https://auth.example.com",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        "CACHE_URL": "redis://127.0.0.1:6379/0",
        "OIDC_RSA_PRIVATE_KEY_FILE": str(signing_key_file),
    }


def test_production_refuses_to_start_without_a_secret_key(production_environment):
    del production_environment["DJANGO_SECRET_KEY"]
    result = manage("check", **production_environment)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(production_environment):
    del production_environment["DJANGO_ALLOWED_HOSTS"]
    result = manage("check", **production_environment)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_passes_the_deploy_checks(production_environment):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_environment)
    assert result.returncode == 0, result.stderr


def test_deploy_checks_want_a_pinned_https_issuer(production_environment):
    # An http issuer does not even start (below); a query string gets past the settings only.
    production_environment["OAUTH_ISSUER"] = "https://auth.example.com/?tenant=1"
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_environment)
    assert result.returncode != 0
    assert "oauth.W001" in result.stderr


def test_deploy_checks_want_a_cache_all_workers_share(production_environment):
    """Without CACHE_URL each worker keeps its own failure counters and spent TOTP codes."""
    for process_local in ("locmemcache://", "dummycache://"):
        production_environment["CACHE_URL"] = process_local
        result = manage("check", "--deploy", "--fail-level", "WARNING", **production_environment)
        assert result.returncode != 0
        assert "oauth.W002" in result.stderr
    del production_environment["CACHE_URL"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_environment)
    assert "oauth.W002" in result.stderr


def test_an_unknown_access_token_format_is_a_clear_check_error(production_environment):
    """A typo in OAUTH_ACCESS_TOKEN_FORMAT stops `check` (and so `migrate`) with oauth.E004, not a
    KeyError; the two formats pass."""
    for known in ("opaque", "jwt"):
        result = manage("check", OAUTH_ACCESS_TOKEN_FORMAT=known, **production_environment)
        assert result.returncode == 0, result.stderr
    result = manage("check", OAUTH_ACCESS_TOKEN_FORMAT="JWT", **production_environment)
    assert result.returncode != 0
    assert (
        "(oauth.E004) OAUTH_ACCESS_TOKEN_FORMAT is 'JWT': access tokens are opaque or jwt." in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_production_refuses_an_http_issuer(production_environment):
    production_environment["OAUTH_ISSUER"] = "http://auth.example.com"
    result = manage("check", **production_environment)
    assert result.returncode != 0
    assert "ImproperlyConfigured: OAUTH_ISSUER is 'http://auth.example.com'" in result.stderr


@pytest.fixture
def development_env_file():
    """The project's development .env, as on every developer's machine: made for the test if absent."""
    path = PROJECT_DIR / ".env"
    if path.exists():
        yield path
        return
    path.write_text(
        "DJANGO_SECRET_KEY=development-only-" + "x" * 40 + "\n"
        "DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1\n"
        "DATABASE_URL=sqlite:///db.sqlite3\n"
    )
    try:
        yield path
    finally:
        path.unlink()


def production_command(*args, **environment):
    """manage.py with production settings and nothing else: no DJANGO_ENV_FILE."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings.production", **environment}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )


REQUIRED = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "OAUTH_ISSUER", "EMAIL_URL")


def test_production_never_reads_the_development_env_file(development_env_file):
    result = production_command("check")
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    assert all(name in error for name in REQUIRED), error
    assert "production never reads .env" in error


def test_an_issuer_alone_does_not_make_a_production_server(development_env_file):
    # The deploy gate used to pass like this, on the SQLite file and the development secret key.
    result = production_command(
        "check", "--deploy", "--fail-level", "WARNING", OAUTH_ISSUER="https://a.example"
    )
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    assert [name for name in REQUIRED if name in error] == [*REQUIRED[:3], REQUIRED[4]], error


SETTINGS_PROBE = """
import json
from django.conf import settings
print(json.dumps([settings.SECRET_KEY, settings.ALLOWED_HOSTS, settings.DATABASES["default"]["NAME"]]))
"""


def test_production_reads_the_file_django_env_file_names(
    production_environment, tmp_path, development_env_file
):
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in production_environment.items()))
    result = production_command("shell", "-c", SETTINGS_PROBE, DJANGO_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    secret_key, hosts, database = json.loads(result.stdout.splitlines()[-1])
    assert secret_key == production_environment["DJANGO_SECRET_KEY"]
    assert hosts == ["auth.example.com"]
    assert database == str(tmp_path / "db.sqlite3")
    # A real environment variable wins over the file.
    result = production_command(
        "shell", "-c", SETTINGS_PROBE, DJANGO_ENV_FILE=str(env_file), DJANGO_ALLOWED_HOSTS="other.example"
    )
    assert json.loads(result.stdout.splitlines()[-1])[1] == ["other.example"]


def test_a_named_env_file_that_is_missing_is_an_error(tmp_path):
    result = production_command("check", DJANGO_ENV_FILE=str(tmp_path / "absent"))
    assert result.returncode != 0
    assert f"DJANGO_ENV_FILE names {tmp_path / 'absent'}, which does not exist" in result.stderr


def test_an_in_memory_sqlite_database_is_no_file(tmp_path):
    probe = 'from django.conf import settings; print(settings.DATABASES["default"]["NAME"])'
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=PROJECT_DIR,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_ENV_FILE": os.devnull,
            "DATABASE_URL": "sqlite://:memory:",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ":memory:"
    assert not (PROJECT_DIR / ":memory:").exists()


TLS_PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="auth.example.com")
plain = client.get("/.well-known/openid-configuration")
secure = client.get("/.well-known/openid-configuration", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "hsts": secure.get("Strict-Transport-Security"),
    "secure_cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "http_only_cookies": [settings.SESSION_COOKIE_HTTPONLY, settings.CSRF_COOKIE_HTTPONLY],
}))
"""


def test_production_answers_over_tls_only(production_environment):
    """RFC 6749 §3.1-3.2 and OAuth 2.1 §1.5: the endpoints need TLS; https only, HSTS, secure cookies."""
    result = manage("shell", "-c", TLS_PROBE, **production_environment)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["plain"] == [301, "https://auth.example.com/.well-known/openid-configuration"]
    assert answer["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert answer["secure_cookies"] == [True, True]
    assert answer["http_only_cookies"] == [True, True]


SESSION_PROBE = """
import json
from django.conf import settings
from django.test import Client, override_settings
# The pages name their static files, whose manifest only collectstatic writes.
override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}}).enable()
client = Client(HTTP_HOST="auth.example.com")
login_page = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "session": [settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_AGE, settings.SESSION_COOKIE_SAMESITE],
    "csrf_cookie": login_page.cookies[settings.CSRF_COOKIE_NAME].output(),
    "demo_callback": client.get("/demo/callback/", {"error_description": "x"}, secure=True).status_code,
}))
"""


def production_probe(environment):
    result = manage("shell", "-c", SESSION_PROBE, **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_cookies_are_host_only_and_a_sign_in_lasts_a_working_day(production_environment):
    """__Host- cookies: Secure, Path=/, no Domain, so no sibling host can set them; 8 hours, Lax."""
    answer = production_probe(production_environment)
    assert answer["session"] == ["__Host-sessionid", 8 * 60 * 60, "Lax"]
    cookie = answer["csrf_cookie"]
    assert cookie.startswith("Set-Cookie: __Host-csrftoken=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    production_environment["DJANGO_SESSION_COOKIE_AGE"] = "3600"
    assert production_probe(production_environment)["session"][1] == 3600


def test_production_requires_a_second_factor_for_the_admin(production_environment):
    probe = "from django.conf import settings; print(settings.ADMIN_REQUIRES_MULTI_FACTOR)"
    result = manage("shell", "-c", probe, **production_environment)
    assert result.stdout.splitlines()[-1] == "True", result.stderr
    result = manage("shell", "-c", probe, **production_environment, ADMIN_REQUIRES_MULTI_FACTOR="false")
    assert result.stdout.splitlines()[-1] == "False", result.stderr


def test_production_has_no_demo_pages_unless_turned_on(production_environment):
    assert production_probe(production_environment)["demo_callback"] == 404
    production_environment["DEMO_PAGES_ENABLED"] = "true"
    # Served: it refuses an answer to a sign-in it did not start.
    assert production_probe(production_environment)["demo_callback"] == 400
