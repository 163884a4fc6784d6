"""
A baked project follows the template (the generated docs/upgrading.md): bake from a release in
this repository's history with the setup, make an owner's typical edits, commit, `cruft update` to
the working tree's commit, resolve the one conflict as the docs say, run scripts/sync.sh and the
project's own tests.

UPGRADE_FROM is the release a project is updated from. At each release, move it to the release
before (its tag, and `git rev-parse <tag>`), so that the test always crosses the newest changes.
"""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import SECRET_KEYS, TEMPLATE_DIR, project_env, read_env_values, run

pytestmark = pytest.mark.slow

UPGRADE_FROM = ("v0.2.0", "6bf30f21fb554023aaf6d353c80962067467cfeb")
ANSWERS = {
    "project_name": "Harbor ID",
    "oauth_scopes": "orders:read=Read your orders,orders:write=Place orders",
    "api_framework": "drf",
}
PACKAGE = "harbor_id"
# What a no-op re-render of the template may take on two cores: cruft clones the template and
# renders it twice.
UPDATE_SECONDS = 30
# Files the update must leave alone: the setup's, never the template's output.
SETUP_FILES = (".env", "keys/oidc.key", "db.sqlite3")
OWNER_LINES = {
    # docs/customising.md's claim of your own.
    "adapter": (
        '    claim_scopes = {**DefaultServerAdapter.claim_scopes, "groups": "profile"}\n\n'
        "    def claims(self, user):\n"
        '        groups = sorted(user.groups.values_list("name", flat=True))\n'
        '        return {**super().claims(user), "groups": groups or None}\n'
    ),
    "setting": "HARBOR_DOCKS = 12  # the owner's own setting\n",
    "dependency": '  "pyotp>=2.9,<3",  # the owner\'s own dependency\n',
}


def copy_the_consent_page(project: Path) -> None:
    """docs/customising.md: a copy of an engine page under templates/, with the owner's words."""
    page = project / "templates/oauth2_provider/authorize.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        (project / "authserver/templates/oauth2_provider/authorize.html")
        .read_text()
        .replace("{% block content %}", "{% block content %}\n<p>Harbor's own words.</p>", 1)
    )


def make_owner_edits(project: Path) -> None:
    """What an owner does in the first weeks: a claim in the adapter, a copy of an engine page, a
    setting, an app with a view and its route, a dependency (next to lines the template changes)."""
    adapter = project / PACKAGE / "adapter.py"
    adapter.write_text(
        adapter.read_text().replace(
            '    """The engine\'s defaults, unchanged until you override them here."""\n',
            '    """Harbor\'s decisions."""\n\n' + OWNER_LINES["adapter"],
        )
    )
    copy_the_consent_page(project)
    app = project / "docks"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(
        "from django.http import JsonResponse\n\n"
        "from authserver.view_policy import API, declare\n\n\n"
        "@declare(API, read_only=True)\n"
        "def docks(request):\n"
        '    return JsonResponse({"docks": 12})\n'
    )
    (app / "urls.py").write_text(
        'from django.urls import path\n\nfrom .views import docks\n\nurlpatterns = [path("", docks, name="docks")]\n'
    )
    base = project / "config/settings/base.py"
    settings = base.read_text().replace(
        "    # Your own apps here.\n", '    "docks",\n    # Your own apps here.\n'
    )
    base.write_text(settings + "\n" + OWNER_LINES["setting"])
    urls = project / "config/urls.py"
    urls.write_text(
        urls.read_text().replace(
            "    # Your own apps' URLs here;",
            '    path("docks/", include("docks.urls")),\n    # Your own apps\' URLs here;',
        )
    )
    pyproject = project / "pyproject.toml"
    lines = pyproject.read_text().splitlines(keepends=True)
    gunicorn = next(index for index, line in enumerate(lines) if line.startswith('  "gunicorn'))
    lines.insert(gunicorn + 1, OWNER_LINES["dependency"])
    pyproject.write_text("".join(lines))


def git(project, *args):
    # An identity of the owner's own, whatever this machine's git knows.
    return run(
        ["git", "-c", "user.name=Harbor Owner", "-c", "user.email=owner@harbor.test", *args], cwd=project
    ).stdout


def cruft(project, *args):
    """cruft as an owner runs it; no pre-commit hook runs (they would fetch tools from GitHub)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cruft", *args],
        cwd=project,
        env=project_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, time.monotonic() - started


def bake_with_setup(template: Path, output_dir: Path) -> tuple[Path, str]:
    """cookiecutter as an owner runs it, with the setup (run_setup=y); returns the hook's output."""
    result = run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(output_dir),
            str(template),
            *(f"{key}={value}" for key, value in ANSWERS.items()),
        ],
        cwd=output_dir,
        env=project_env(),
    )
    return output_dir / PACKAGE, result.stdout + result.stderr


def tracked_files(project):
    return set(git(project, "ls-files").split())


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory):
    """Everything an owner does, once; the tests read what each step left."""
    tag, commit = UPGRADE_FROM
    work = tmp_path_factory.mktemp("upgrade")
    head = run(["git", "rev-parse", "HEAD"], cwd=TEMPLATE_DIR).stdout.strip()
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=TEMPLATE_DIR)
    if known.returncode != 0:
        pytest.fail(
            f"{tag} ({commit}) is not in this clone's history: the upgrade test needs the whole "
            "history (git fetch --unshallow)"
        )
    # The template as an owner's machine sees it: a clone, at the release the project was baked from.
    template = work / "template"
    run(["git", "clone", "--quiet", str(TEMPLATE_DIR), str(template)], cwd=work)
    run(["git", "checkout", "--quiet", commit], cwd=template)
    output = work / "projects"
    output.mkdir()
    project, bake_output = bake_with_setup(template, output)

    # The template moves on to the working tree's commit.
    run(["git", "checkout", "--quiet", head], cwd=template)
    first_commits = git(project, "log", "--format=%s").splitlines()
    clean_after_setup = git(project, "status", "--porcelain")
    make_owner_edits(project)
    env_file = project / ".env"
    env_file.write_text(
        env_file.read_text().replace(
            f"OAUTH_SCOPES={ANSWERS['oauth_scopes']}",
            f"OAUTH_SCOPES={ANSWERS['oauth_scopes']},orders:cancel=Cancel your orders",
        )
    )
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "--no-verify", "-m", "Harbor's edits")
    setup_files = {name: (project / name).read_bytes() for name in SETUP_FILES}

    check_before, _ = cruft(project, "check", "--checkout", head)
    updated, update_seconds = cruft(project, "update", "--skip-apply-ask", "--checkout", head)
    status_after_update = git(project, "status", "--porcelain")
    setup_files_after_update = {name: (project / name).read_bytes() for name in SETUP_FILES}
    conflicted = (project / "pyproject.toml").read_text()

    # docs/upgrading.md, step 4: keep what you need of each side, then `git add`.
    template_side = git(project, "show", ":3:pyproject.toml")
    lines = template_side.splitlines(keepends=True)
    gunicorn = next(index for index, line in enumerate(lines) if line.startswith('  "gunicorn'))
    lines.insert(gunicorn + 1, OWNER_LINES["dependency"])
    (project / "pyproject.toml").write_text("".join(lines))
    git(project, "add", "pyproject.toml")
    # docs/customising.md: after an update, the owner's copy of an engine page takes the engine's
    # new page (a fix to it arrives there, not in the copy), with the owner's words again.
    copy_the_consent_page(project)

    # The template's working tree commit, baked with the same answers and given the same edits:
    # what the updated project must now be.
    expected = work / "expected"
    expected.mkdir()
    run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(expected),
            str(TEMPLATE_DIR),
            "run_setup=n",
            *(f"{key}={value}" for key, value in ANSWERS.items()),
        ],
        cwd=expected,
        env=project_env(),
    )
    make_owner_edits(expected / PACKAGE)

    sync = run(["scripts/sync.sh"], cwd=project, env=project_env(), timeout=900)
    suite = run(
        [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=project_env()
    )
    git(project, "commit", "--quiet", "--no-verify", "-am", "Template update")
    check_after, _ = cruft(project, "check")
    again, again_seconds = cruft(project, "update", "--skip-apply-ask", "--checkout", head)
    return {
        "head": head,
        "project": project,
        "expected": expected / PACKAGE,
        "bake_output": bake_output,
        "first_commits": first_commits,
        "clean_after_setup": clean_after_setup,
        "setup_files": setup_files,
        "setup_files_after_update": setup_files_after_update,
        "check_before": check_before,
        "updated": updated,
        "update_seconds": update_seconds,
        "status_after_update": status_after_update,
        "conflicted": conflicted,
        "sync": sync,
        "suite": suite,
        "check_after": check_after,
        "again": again,
        "again_seconds": again_seconds,
    }


def test_the_setup_made_the_first_commit(upgrade):
    assert upgrade["first_commits"] == ["Baked from the template (its commit and the answers: .cruft.json)"]
    assert upgrade["clean_after_setup"] == ""


def test_cruft_knows_the_project_from_the_bake(upgrade):
    # cruft check exits 1 while the template has moved on since the recorded commit.
    assert upgrade["check_before"].returncode == 1, upgrade["check_before"].stdout


def test_the_update_applies_the_template_and_keeps_the_owners_edits(upgrade):
    """Every file is what the template's working tree commit makes, with the owner's edits in it."""
    project, expected = upgrade["project"], upgrade["expected"]
    assert upgrade["updated"].returncode == 0, upgrade["updated"].stderr
    mismatched = [
        name
        for name in sorted(
            tracked_files(project)
            | {str(path.relative_to(expected)) for path in expected.rglob("*") if path.is_file()}
        )
        if name not in (".cruft.json", ".env")
        and (
            not (project / name).is_file()
            or not (expected / name).is_file()
            or (project / name).read_bytes() != (expected / name).read_bytes()
        )
    ]
    assert mismatched == []
    for line in OWNER_LINES.values():
        assert line in "".join(
            (project / name).read_text()
            for name in (f"{PACKAGE}/adapter.py", "config/settings/base.py", "pyproject.toml")
        )


def test_the_update_changed_something(upgrade):
    """The test crosses real template changes: the engine's files and the dependencies moved."""
    changed = git(upgrade["project"], "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert "pyproject.toml" in changed and any(name.startswith("authserver/") for name in changed)


def test_a_conflict_in_a_file_the_owner_edited_is_shown_not_dropped(upgrade):
    """The owner's dependency sits next to the lines the template changed: git's three-way merge
    marks the conflict, and nothing else conflicts."""
    unmerged = [
        line[3:]
        for line in upgrade["status_after_update"].splitlines()
        if line[:2] in ("UU", "AA", "DU", "UD")
    ]
    assert unmerged == ["pyproject.toml"]
    conflicted = upgrade["conflicted"]
    assert "<<<<<<<" in conflicted and ">>>>>>>" in conflicted and OWNER_LINES["dependency"] in conflicted
    assert "pyproject.toml" in upgrade["updated"].stdout + upgrade["updated"].stderr
    assert not list(upgrade["project"].rglob("*.rej"))


def test_the_update_runs_no_setup_and_prints_no_secret(upgrade):
    project = upgrade["project"]
    output = upgrade["updated"].stdout + upgrade["updated"].stderr
    for name, content in upgrade["setup_files"].items():
        assert upgrade["setup_files_after_update"][name] == content, f"the update touched {name}"
    secrets = read_env_values(project)
    for key in SECRET_KEYS:
        assert secrets[key] not in output
    assert "[1/" not in output and "virtualenv" not in output
    assert "does not exist in index" not in output
    assert not (project / ".cookiecutter.json").exists()


def test_the_update_is_quick(upgrade):
    assert upgrade["update_seconds"] < UPDATE_SECONDS
    assert upgrade["again_seconds"] < UPDATE_SECONDS
    assert upgrade["again"].returncode == 0 and "Nothing to do" in upgrade["again"].stdout


def test_cruft_records_the_new_commit_and_the_same_answers(upgrade):
    state = json.loads((upgrade["project"] / ".cruft.json").read_text())
    assert state["commit"] == upgrade["head"]
    answers = state["context"]["cookiecutter"]
    assert {key: answers[key] for key in ANSWERS} == ANSWERS
    assert upgrade["check_after"].returncode == 0


def test_sync_installs_the_new_dependencies_and_migrates(upgrade):
    project = upgrade["project"]
    installed = run(
        [shutil.which("uv"), "pip", "list", "--python", ".venv/bin/python", "--format", "json"], cwd=project
    ).stdout
    versions = {package["name"]: package["version"] for package in json.loads(installed)}
    oauthlib = re.search(r'"oauthlib([^"]*)"', (project / "pyproject.toml").read_text()).group(1)
    assert versions["oauthlib"].split(".")[0] == re.search(r">=(\d+)", oauthlib).group(1)
    assert "pyotp" in versions
    assert "No migrations to apply" in upgrade["sync"].stdout or "Applying" in upgrade["sync"].stdout
    assert "System check identified no issues" in upgrade["sync"].stdout


def test_the_projects_tests_pass_after_the_update(upgrade):
    assert re.search(r"\d+ passed", upgrade["suite"].stdout) and not re.search(
        r"\d+ failed", upgrade["suite"].stdout
    )
