"""
The deploy files (deploy/, gunicorn.conf.py, the cron line of docs/deploy.md) share one
production environment.
"""

import configparser
import logging
import os
import re
import runpy
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
SLUG = "{{ cookiecutter.project_slug }}"
ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE=config.settings.production",
    f"DJANGO_ENV_FILE=/etc/{SLUG}/env",
}


def environment_of(name):
    """Every Environment= line of a unit (configparser keeps only the last one)."""
    lines = (PROJECT_DIR / "deploy/systemd" / name).read_text().splitlines()
    return {line.removeprefix("Environment=") for line in lines if line.startswith("Environment=")}


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((PROJECT_DIR / "deploy/systemd" / name).read_text())
    return parser


@pytest.mark.parametrize("name", [f"{SLUG}.service", f"{SLUG}-cleartokens.service"])
def test_every_unit_runs_as_the_service_user_with_the_production_environment(name):
    service = unit(name)["Service"]
    assert service["User"] == SLUG
    assert service["WorkingDirectory"] == f"/srv/{SLUG}"
    assert environment_of(name) == ENVIRONMENT
    assert service["ExecStart"].startswith(f"/srv/{SLUG}/.venv/bin/")


# What the cleanup runs, in order: expired tokens, then (MCP_READY) the registrations left unused,
# whose last tokens cleartokens has just deleted (docs/mcp.md).
CLEANUP_COMMANDS = ["cleartokens", "cleanregistrations"] if settings.MCP_READY else ["cleartokens"]


def exec_starts(name):
    """Every ExecStart= line of a unit, in order: a oneshot unit runs them one after the other."""
    lines = (PROJECT_DIR / "deploy/systemd" / name).read_text().splitlines()
    return [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]


def test_the_web_unit_reloads_gracefully_and_the_timer_runs_the_cleanup():
    assert unit(f"{SLUG}.service")["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert exec_starts(f"{SLUG}-cleartokens.service") == [
        f"/srv/{SLUG}/.venv/bin/python manage.py {command}" for command in CLEANUP_COMMANDS
    ]
    assert unit(f"{SLUG}-cleartokens.timer")["Timer"]["OnCalendar"] == "hourly"


def test_the_deploy_guide_cron_line_has_the_same_environment_and_commands():
    guide = (PROJECT_DIR / "docs/deploy.md").read_text()
    [line] = re.findall(r"^\d+ \* \* \* \* .*manage\.py clea.*$", guide, re.M)
    commands = line.split(" && ")[1:]
    assert [command.split()[-1] for command in commands] == CLEANUP_COMMANDS, line
    for command in commands:
        assert all(value in command.split() for value in ENVIRONMENT), command
        assert ".venv/bin/python manage.py " in command


def test_the_kubernetes_cronjob_runs_the_same_cleanup():
    cronjob = (PROJECT_DIR / "deploy/kubernetes/cleartokens-cronjob.yaml").read_text()
    [command] = re.findall(r"^ +command: (.*)$", cronjob, re.M)
    expected = " && ".join(f"python3 manage.py {name}" for name in CLEANUP_COMMANDS)
    assert command in (f'[sh, -c, "{expected}"]', f"[{expected.replace(' ', ', ')}]"), command


def gunicorn_settings(monkeypatch, **environment):
    for name in ("GUNICORN_BIND", "PORT", "FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY", "DJANGO_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(PROJECT_DIR / "gunicorn.conf.py"))


def test_gunicorn_listens_on_loopback_and_trusts_only_loopback_proxies(monkeypatch):
    config = gunicorn_settings(monkeypatch)
    assert config["bind"] == ["127.0.0.1:8000"]
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert gunicorn_settings(monkeypatch, PORT="9000")["bind"] == ["127.0.0.1:9000"]
    assert gunicorn_settings(monkeypatch, GUNICORN_BIND="0.0.0.0:9000")["bind"] == ["0.0.0.0:9000"]


def test_gunicorn_reads_its_variables_from_the_production_environment_file(monkeypatch, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("PORT=9001\nFORWARDED_ALLOW_IPS=10.0.0.5\nWEB_CONCURRENCY=3\n")
    config = gunicorn_settings(monkeypatch, DJANGO_ENV_FILE=str(env_file))
    assert (config["bind"], config["forwarded_allow_ips"], config["workers"]) == (
        ["127.0.0.1:9001"],
        "10.0.0.5",
        3,
    )


@pytest.mark.parametrize(
    ("cpu_max", "cap"),
    [("50000 100000\n", 1), ("150000 100000\n", 2), ("max 100000\n", None), (None, None)],
)
def test_gunicorn_counts_the_cpus_a_container_may_use(monkeypatch, tmp_path, cpu_max, cap):
    usable_cpus = gunicorn_settings(monkeypatch)["usable_cpus"]
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(path) == (affinity if cap is None else min(affinity, cap))


def test_a_graceful_reload_logs_no_error(monkeypatch):
    graceful_worker_exit = gunicorn_settings(monkeypatch)["GracefulWorkerExit"]()

    def record(message):
        entry = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, message, None, None)
        graceful_worker_exit.filter(entry)
        return entry.levelname

    assert record("Worker (pid:123) was sent SIGTERM!") == "INFO"
    assert record("Worker (pid:123) was sent SIGKILL! Perhaps out of memory?") == "ERROR"
    assert record("Worker (pid:123) exited with code 1") == "ERROR"
