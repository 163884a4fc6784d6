"""scripts/test, the README's test command: it runs on a machine without uv."""

import os
import shutil
import subprocess
import sys

import pytest

from .support import TEMPLATE_DIR

SCRIPT = TEMPLATE_DIR / "scripts" / "test"


def test_the_test_script_is_an_executable_that_runs_pytest_in_the_locked_environment():
    assert os.access(SCRIPT, os.X_OK)
    text = SCRIPT.read_text(encoding="utf-8")
    assert 'uv run --locked --extra test pytest "$@"' in text
    # .ci/run runs the README's command, which is this script.
    assert "\nscripts/test\n" in (TEMPLATE_DIR / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    # uv run makes .venv in the checkout: never committed.
    assert ".venv/" in (TEMPLATE_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()


@pytest.mark.slow
def test_the_test_script_installs_uv_where_it_is_missing(tmp_path):
    # A fresh machine: python3 with pip, and no uv on PATH. Installing uv fetches it from PyPI.
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
    path = os.pathsep.join([str(fresh / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None
    environment = {**os.environ, "PATH": path}
    environment.pop("VIRTUAL_ENV", None)
    # Arguments go to pytest: --version runs no test.
    result = subprocess.run(
        [str(SCRIPT), "--version"], env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "Installing uv from PyPI" in result.stderr
    assert (fresh / "bin" / "uv").exists()
    assert result.stdout.startswith("pytest ")
