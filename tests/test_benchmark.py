"""
Smoke runs of the benchmarks (benchmarks/throughput.py, benchmarks/peer_comparison.py), so that
they keep working: tiny durations, SQLite only. Their figures mean nothing here; every row must
have been measured, with no failed answer.
"""

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

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
    "sqlite-api-me-jwt",
    "sqlite-introspection",
    "sqlite-api-me-sustained",
}


def run_benchmark(script, tmp_path, *arguments):
    """The script's --json results, after a run with tiny durations on SQLite."""
    if not shutil.which("wrk"):
        pytest.skip("SKIPPED LOUDLY: wrk is not installed (.ci/run installs Debian's package)")
    results_path = tmp_path / "results.json"
    subprocess.run(
        [
            sys.executable,
            f"benchmarks/{script}",
            "--seconds=1",
            "--warmup=1",
            *arguments,
            "--databases",
            "sqlite",
            f"--json={results_path}",
        ],
        cwd=TEMPLATE_DIR,
        check=True,
        timeout=900,
    )
    return json.loads(results_path.read_text())


def assert_every_row_answered_and_every_server_measured(rows, servers):
    for row in rows:
        assert row["requests"] > 0, row
        assert row["non_2xx"] == 0, row
        assert row["socket_errors"] == 0, row
    for server in servers:
        assert server["workers"], server
        assert all(worker["rss_mb"] > 0 for worker in server["workers"]), server


def test_the_benchmark_measures_every_row_without_a_failed_answer(tmp_path):
    results = run_benchmark("throughput.py", tmp_path, "--soak-seconds=1")
    rows = {row["id"]: row for row in results["rows"]}
    assert set(rows) == ROWS
    assert_every_row_answered_and_every_server_measured(rows.values(), results["servers"])
    assert all(row["one_time_bodies_exhausted"] == 0 for row in rows.values()), rows
    assert rows["ceiling-bare"]["ratio_to_ceiling"] == 1
    assert rows["sqlite-api-me"]["ratio_to_reference"] > 0
    assert results["bake_seconds"] > 0


def load_throughput():
    sys.path.insert(0, str(TEMPLATE_DIR / "benchmarks"))
    try:
        return importlib.import_module("throughput")
    finally:
        sys.path.remove(str(TEMPLATE_DIR / "benchmarks"))


def test_a_variant_is_compared_with_the_defaults_of_its_database_and_row():
    """--variant LABEL:NAME=VALUE,... reruns the project's rows; each is divided by its default row."""
    throughput = load_throughput()
    assert throughput.variant("no-cache:OAUTH_TOKEN_CACHE_SECONDS=0,DJANGO_CONN_MAX_AGE=0") == (
        "no-cache",
        {"OAUTH_TOKEN_CACHE_SECONDS": "0", "DJANGO_CONN_MAX_AGE": "0"},
    )
    for malformed in ("no-cache", "no-cache:", ":A=1", "no-cache:A"):
        with pytest.raises(argparse.ArgumentTypeError):
            throughput.variant(malformed)
    rows = [
        {"id": "ceiling-bare", "requests_per_second": 1000.0},
        {"id": "reference-protected-resource", "requests_per_second": 250.0},
        {
            "id": "sqlite-api-me",
            "kind": "api-me",
            "database": "sqlite",
            "variant": None,
            "requests_per_second": 600.0,
        },
        {
            "id": "postgresql-api-me",
            "kind": "api-me",
            "database": "postgresql",
            "variant": None,
            "requests_per_second": 400.0,
        },
        {
            "id": "sqlite-no-cache-api-me",
            "kind": "api-me",
            "database": "sqlite",
            "variant": "no-cache",
            "requests_per_second": 200.0,
        },
    ]
    throughput.add_ratios(rows)
    by_id = {row["id"]: row for row in rows}
    assert by_id["sqlite-api-me"]["ratio_to_ceiling"] == 0.6
    assert by_id["sqlite-api-me"]["ratio_to_reference"] == 2.4
    assert by_id["sqlite-api-me"]["ratio_to_default"] is None
    assert by_id["sqlite-no-cache-api-me"]["ratio_to_default"] == 0.333


# What the peers' driver must measure here: ours, and each peer whose module is in the checkout
# (node-oidc-provider also needs node and npm).
PEER_MODULES = {
    "peers.allauth_provider": (),
    "peers.authlib_server": (),
    "peers.node_oidc_provider": ("node", "npm"),
}


def test_the_peers_benchmark_measures_ours_and_every_peer_without_a_failed_answer(tmp_path):
    """benchmarks/peer_comparison.py, tiny durations, ours on SQLite: every row measured, 0 non-2xx, ratios."""
    expected = {"peers.ours"}
    for module, programs in PEER_MODULES.items():
        source = TEMPLATE_DIR / "benchmarks" / (module.replace(".", "/") + ".py")
        missing = [program for program in programs if not shutil.which(program)]
        if source.is_file() and not missing:
            expected.add(module)
        elif source.is_file():
            warnings.warn(f"SKIPPED LOUDLY: {module} is not measured here, {missing} missing", stacklevel=1)
    # django-allauth's default PBKDF2 answers a few token requests a second at most.
    results = run_benchmark("peer_comparison.py", tmp_path, "--rounds=1", "--slow-row-seconds=3")
    rows = results["rows"]
    assert {row["module"] for row in rows} == expected, results["skipped"]
    for module in expected:
        for key in {row["key"] for row in rows if row["module"] == module}:
            assert {row["kind"] for row in rows if row["key"] == key} == {
                "client-credentials",
                "introspection",
                "resource",
            }
    assert_every_row_answered_and_every_server_measured(rows, results["servers"])
    for row in rows:
        assert row["cpu_ms_per_request"] > 0, row
        if row["module"] != "peers.ours":
            assert row["ours_per_peer"]["sqlite"] > 0, row
    assert {row["key"] for row in rows} >= {"ours-sqlite", "allauth-default-hasher", "allauth-ours-hasher"}
