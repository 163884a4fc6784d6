"""
A smoke run of the benchmark (benchmarks/throughput.py), so that it keeps working: tiny
durations, SQLite only. Its figures mean nothing here; every row must have been measured,
with no failed answer.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("benchmark")

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
ROWS = {
    "ceiling-bare",
    "ceiling-middleware",
    "reference-client-credentials",
    "reference-protected-resource",
    "sqlite-client-credentials",
    "sqlite-refresh",
    "sqlite-authorization-code",
    "sqlite-api-me",
    "sqlite-introspection",
}


def test_the_benchmark_measures_every_row_without_a_failed_answer(tmp_path):
    if not shutil.which("wrk"):
        pytest.skip("SKIPPED LOUDLY: wrk is not installed (.ci/run installs Debian's package)")
    results_path = tmp_path / "results.json"
    subprocess.run(
        [
            sys.executable,
            "benchmarks/throughput.py",
            "--seconds=1",
            "--warmup=1",
            "--databases",
            "sqlite",
            f"--json={results_path}",
        ],
        cwd=TEMPLATE_DIR,
        check=True,
        timeout=900,
    )
    results = json.loads(results_path.read_text())
    rows = {row["id"]: row for row in results["rows"]}
    assert set(rows) == ROWS
    for row in rows.values():
        assert row["requests"] > 0, row
        assert row["non_2xx"] == 0, row
        assert row["socket_errors"] == 0, row
        assert row["one_time_bodies_exhausted"] == 0, row
    assert rows["ceiling-bare"]["ratio_to_ceiling"] == 1
    assert rows["sqlite-api-me"]["ratio_to_reference"] > 0
    assert results["bake_seconds"] > 0
    for server in results["servers"]:
        assert server["workers"], server
        assert all(worker["rss_mb"] > 0 for worker in server["workers"]), server
