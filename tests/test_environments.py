"""
The generated project's own test suite where it claims to run: every Python that its
pyproject.toml admits (that this machine has), at the newest versions its dependency ranges allow
and at the lowest, and PostgreSQL as well as SQLite.

Each test bakes on its own, so pytest-xdist may spread them over its workers (spread).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from .support import TEMPLATE_DIR, bake, fresh_postgres_database, postgres_admin, project_env, run

pytestmark = pytest.mark.spread

# The template's pyproject.toml, without the lines of its option blocks ({% if %} ... {% endif %}).
PROJECT_PYPROJECT = tomllib.loads(
    re.sub(
        r"^\{%.*%\}\n",
        "",
        (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text(),
        flags=re.M,
    )
)


def supported_pythons():
    """3.11 to 3.13 from requires-python = ">=3.11,<3.14"."""
    low, high = re.fullmatch(
        r">=3\.(\d+),<3\.(\d+)", PROJECT_PYPROJECT["project"]["requires-python"]
    ).groups()
    return [f"3.{minor}" for minor in range(int(low), int(high))]


def test_classifiers_name_every_supported_python():
    classifiers = PROJECT_PYPROJECT["project"]["classifiers"]
    named = [
        line.rsplit(" ", 1)[1]
        for line in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", line)
    ]
    assert named == supported_pythons()
    readme = (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "README.md").read_text()
    first, last = supported_pythons()[0], supported_pythons()[-1]
    assert f"Python {first} to {last}" in readme


def find_python(version):
    """An interpreter of that version from PATH or pyenv's versions (whose shims may not run it)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}")),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return str(candidate)
    return None


def install_and_run_suite(tmp_path, version, resolution):
    """Bake, install the project's dependencies (dev included) into a fresh virtualenv of that
    Python, resolved as uv's --resolution says, and run the generated suite. Returns the venv's
    Python."""
    python = find_python(version)
    if python is None:
        pytest.skip(
            f"SKIPPED LOUDLY: no Python {version} on this machine (PATH, pyenv): the suite did not run on it"
        )
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("SKIPPED LOUDLY: uv is not on PATH: no virtualenv for the other Pythons")
    project = bake(tmp_path / "bake")
    venv_python = tmp_path / "venv/bin/python"
    run([uv, "venv", "--quiet", "--python", python, str(tmp_path / "venv")], cwd=project)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv_python), "--resolution", resolution]
    run([*install, "-r", "pyproject.toml", "--extra", "dev"], cwd=project)
    result = run(
        [str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=project_env()
    )
    assert re.search(r"\d+ passed", result.stdout) and not re.search(r"\d+ failed", result.stdout)
    assert run([str(venv_python), "-c", "import sys; print(sys.version)"], cwd=project).stdout.startswith(
        version
    )
    return venv_python


def installed_versions(venv_python):
    listing = run(
        [shutil.which("uv"), "pip", "list", "--python", str(venv_python), "--format", "json"],
        cwd=venv_python.parent,
    )
    return {canonical(package["name"]): Version(package["version"]) for package in json.loads(listing.stdout)}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements():
    """The project's direct dependencies, dev included (every option block's too)."""
    project = PROJECT_PYPROJECT["project"]
    return [
        Requirement(line) for line in (*project["dependencies"], *project["optional-dependencies"]["dev"])
    ]


@pytest.mark.slow
@pytest.mark.parametrize("version", supported_pythons()[1:])
def test_generated_test_suite_passes_under_each_supported_python(version, tmp_path):
    """At the newest versions the ranges allow: what a bake installs today. Not on the oldest
    Python, which runs the suite at the lowest versions (below), and at the locked ones where it
    bakes, as on CI's machine (test_full_setup.py): one run fewer."""
    venv_python = install_and_run_suite(tmp_path, version, "highest")
    installed = installed_versions(venv_python)
    for requirement in direct_requirements():
        if requirement.name != "djangorestframework":
            assert installed[canonical(requirement.name)] in requirement.specifier


@pytest.mark.slow
def test_generated_test_suite_passes_at_the_lowest_versions_its_ranges_allow(tmp_path):
    """Each lower bound in pyproject.toml is a tested promise: every direct dependency at exactly
    its lower bound, under the oldest supported Python."""
    venv_python = install_and_run_suite(tmp_path, supported_pythons()[0], "lowest-direct")
    installed = installed_versions(venv_python)
    at_lowest = {}
    for requirement in direct_requirements():
        lower_bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if requirement.name != "djangorestframework" and lower_bounds:
            at_lowest[requirement.name] = installed[canonical(requirement.name)] == Version(lower_bounds[0])
    assert at_lowest and all(at_lowest.values()), at_lowest


@pytest.mark.slow
def test_generated_test_suite_passes_on_postgresql(tmp_path):
    # pytest-django runs the suite in test_<name>; --reuse-db keeps that database afterwards,
    # which shows the suite really ran on PostgreSQL. Some tests start the project in a
    # subprocess, outside the test database: <name> is there for them.
    project = bake(tmp_path)
    with fresh_postgres_database("suite") as url, postgres_admin() as admin:
        test_database = "test_" + url.rsplit("/", 1)[1]
        try:
            result = run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reuse-db"],
                cwd=project,
                env=project_env(DATABASE_URL=url),
            )
            used = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [test_database]).fetchone()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{test_database}" WITH (FORCE)')
    assert used, "the suite did not run on PostgreSQL"
    assert re.search(r"\d+ passed", result.stdout) and not re.search(r"\d+ failed", result.stdout)
