"""
How fast is a baked project next to the OAuth servers users choose between?

    uv run --locked --extra test --extra bench python benchmarks/peer_comparison.py \
        [--seconds 8] [--rounds 2] [--databases sqlite postgresql] [--json results.json]

Bakes the template (run_setup=y), then starts, all at once: ours under its production command on
each --databases, and each peer of benchmarks/peers/ (node-oidc-provider on Redis, Authlib's server
on SQLite, django-allauth's OIDC provider on PostgreSQL with its default client-secret hasher and
with ours), each set up as its module's docstring says and validated before it is measured (a real
client-credentials token, `active: true` at introspection, 200 with it and 401 without at the
resource). Then, round after round, each kind of request (client credentials at the token
endpoint, introspection by a resource server, a bearer-protected resource) on each target in turn,
with wrk, on loopback; the median of the rounds per row.

Prints requests/s, p50/p99 latency, non-2xx answers, CPU time per request in the server's own
processes, resident memory per worker, and for each peer's row the ratio ours/peer on each of our
databases; `--json` writes them. A peer whose module or prerequisites (node, npm, Redis) are
missing is skipped, loudly. Every process it starts is stopped when it ends. Ratios within one run
mean more than absolute figures, and only on a quiet machine.
"""

import argparse
import contextlib
import importlib
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import peers.ours
import throughput
from harness import machine_facts

KINDS = {
    "client-credentials": "client-credentials token",
    "introspection": "introspection",
    "resource": "bearer-protected resource",
}
# (module under benchmarks/peers/, the database it stores in, options of its start, what it needs).
PEERS = (
    ("node_oidc_provider", "redis", {}, ("node", "npm", "redis")),
    ("authlib_server", "sqlite", {}, ()),
    ("allauth_provider", "postgresql", {"hasher": "default"}, ("postgresql",)),
    ("allauth_provider", "postgresql", {"hasher": "ours"}, ("postgresql",)),
)
# A row whose warm-up answered fewer requests per second than this (a key-stretched client secret)
# is measured for --slow-row-seconds instead, so that a short run still sees some of its answers.
SLOW_ROW_RATE = 20
SERVICES = {"redis": ("127.0.0.1", 6379), "postgresql": ("127.0.0.1", 5432)}


def parse_arguments():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=8, help="measured load per row and round (default 8)"
    )
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured load before each row (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each row keeps its median (default 2)")
    parser.add_argument(
        "--slow-row-seconds",
        type=float,
        default=15,
        help=f"measured load of a row under {SLOW_ROW_RATE} req/s in its warm-up (default 15)",
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument(
        "--markdown", type=Path, help="write the tables here in Markdown, as the README shows them"
    )
    return parser.parse_args()


def missing_prerequisite(needs):
    """The first of `needs` (a program on PATH, or a service on loopback) that is not there, or None."""
    for need in needs:
        if need in SERVICES:
            with contextlib.suppress(OSError), socket.create_connection(SERVICES[need], timeout=2):
                continue
            return f"nothing answers on {SERVICES[need][0]}:{SERVICES[need][1]} ({need})"
        if not shutil.which(need):
            return f"{need} is not on PATH"
    return None


def peer_label(module_name, options):
    return module_name + "".join(f" {key}={value}" for key, value in options.items())


def load_peers():
    """The peers that can run here, as (module, database, options); the others, with why."""
    runnable, skipped = [], []
    for module_name, database, options, needs in PEERS:
        label = peer_label(module_name, options)
        reason = missing_prerequisite(needs)
        if reason is None:
            try:
                module = importlib.import_module(f"peers.{module_name}")
            except ModuleNotFoundError as error:  # the module, or a package it needs
                reason = f"cannot import peers.{module_name}: {error}"
        if reason:
            print(f"\n!!!!! SKIPPED LOUDLY: the peer {label} is not measured: {reason} !!!!!\n", flush=True)
            skipped.append({"peer": label, "reason": reason})
        else:
            runnable.append((module, database, options))
    return runnable, skipped


def start_targets(stack, bench, work_dir, databases, runnable):
    """Ours on each database, then every peer: all running at once until the stack closes.
    Returns (module name, Target) pairs."""
    targets = []
    for database in databases:
        print(f"starting ours on {database} ...", flush=True)
        targets.append(
            (peers.ours.__name__, stack.enter_context(peers.ours.start(bench, work_dir, database)))
        )
    for module, database, options in runnable:
        print(f"starting {peer_label(module.__name__, options)} on {database} ...", flush=True)
        target = stack.enter_context(module.start(bench, work_dir, database, **options))
        targets.append((module.__name__, target))
    return targets


def process_tree_cpu_seconds(root_pid):
    """CPU time of a process and all its descendants, those that exited and were reaped included."""
    parents, times = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid = int(stat.parent.name)
        # utime, stime, and those of its reaped children (counted nowhere else).
        parents[pid], times[pid] = int(fields[1]), sum(map(int, fields[11:15]))
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, its_parent in parents.items() if its_parent == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(target, timeout=60):
    """Until the target stops using CPU: a slow row's requests still queued when wrk stopped must
    not run during the next target's row."""
    deadline = time.monotonic() + timeout
    before = process_tree_cpu_seconds(target.server.process.pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = process_tree_cpu_seconds(target.server.process.pid)
        if now - before < 0.02:
            return
        before = now


def measure_row(bench, target, kind):
    """One round of one row: warm-up, then wrk with the target's CPU time counted around it."""
    request = target.requests[kind]
    arguments = bench.arguments
    port, pid = target.server.port, target.server.process.pid
    warm = bench.wrk(
        port, request.method, request.path, request.headers, request.body, seconds=arguments.warmup
    )
    slow = warm["requests"] < SLOW_ROW_RATE * warm["duration_us"] / 1e6
    seconds = max(arguments.seconds, arguments.slow_row_seconds) if slow else arguments.seconds
    wait_until_idle(target)
    target.server.mark_memory()
    cpu_before = process_tree_cpu_seconds(pid)
    result = bench.wrk(port, request.method, request.path, request.headers, request.body, seconds=seconds)
    wait_until_idle(target)
    # The requests still queued when wrk stopped are counted in the CPU time: spread over the answers.
    result["cpu_seconds"] = process_tree_cpu_seconds(pid) - cpu_before
    return result


def measure_rounds(bench, targets):
    """Each round: every kind, on every target in turn. Returns {(key, kind): [wrk results]}."""
    results = {(target.key, kind): [] for target in targets for kind in KINDS}
    for round_number in range(1, bench.arguments.rounds + 1):
        for kind in KINDS:
            for target in targets:
                result = measure_row(bench, target, kind)
                results[target.key, kind].append(result)
                rate = result["requests"] / (result["duration_us"] / 1e6)
                print(
                    f"  round {round_number}: {rate:9.1f} req/s  non-2xx {result['non_2xx']}  "
                    f"{KINDS[kind]}  {target.name}",
                    flush=True,
                )
    return results


def summarize_row(module_name, target, kind, runs):
    """The median of the rounds (sums for the counts)."""
    requests = sum(run["requests"] for run in runs)
    cpu_ms = [run["cpu_seconds"] * 1000 / run["requests"] for run in runs if run["requests"]]
    return {
        "id": f"{target.key}-{kind}",
        "key": target.key,
        "module": module_name,
        "kind": kind,
        "database": target.database,
        "title": f"{target.name}: {KINDS[kind]}",
        "requests": requests,
        "requests_per_second": round(
            statistics.median(run["requests"] / (run["duration_us"] / 1e6) for run in runs), 1
        ),
        "p50_ms": round(statistics.median(run["p50_us"] for run in runs) / 1000, 2),
        "p99_ms": round(statistics.median(run["p99_us"] for run in runs) / 1000, 2),
        "cpu_ms_per_request": round(statistics.median(cpu_ms), 2) if cpu_ms else None,
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
        "timeouts": sum(run["timeouts"] for run in runs),
        "rounds": len(runs),
    }


def add_ratios(rows):
    """Each peer's row gains ours/peer, the same kind on each of our databases."""
    ours = {(row["database"], row["kind"]): row for row in rows if row["module"] == "peers.ours"}
    for row in rows:
        if row["module"] == "peers.ours":
            continue
        row["ours_per_peer"] = {
            database: round(mine["requests_per_second"] / row["requests_per_second"], 3)
            if row["requests_per_second"]
            else None
            for (database, kind), mine in ours.items()
            if kind == row["kind"]
        }


def server_report(target):
    return {
        "name": target.name,
        "key": target.key,
        "database": target.database,
        "workers": target.server.memory_report(),
    }


def figure(value, spec):
    return "" if value is None else format(value, spec)


def markdown_tables(results, databases):
    """Per server, req/s (p99 ms) and CPU ms per request of each kind; then ours/peer per kind."""
    servers = {server["key"]: server for server in results["servers"]}
    by_key = {}
    for row in results["rows"]:
        by_key.setdefault(row["key"], {})[row["kind"]] = row
    kinds = " | ".join(KINDS.values())
    lines = [
        f"| req/s (p99 ms), CPU ms/req | {kinds} | RSS MB/worker |",
        "| --- |" + " --- |" * (len(KINDS) + 1),
    ]
    for key, rows in by_key.items():
        cells = " | ".join(
            f"{rows[kind]['requests_per_second']:,.0f} ({rows[kind]['p99_ms']:,.0f}), "
            f"{figure(rows[kind]['cpu_ms_per_request'], '.2f')}"
            for kind in KINDS
        )
        memory = "/".join(f"{worker['rss_mb']:.0f}" for worker in servers[key]["workers"])
        lines.append(f"| {servers[key]['name']} | {cells} | {memory} |")
    lines += ["", f"| ours/peer ({', '.join(databases)}) | {kinds} |", "| --- |" + " --- |" * len(KINDS)]
    for key, rows in by_key.items():
        if "ours_per_peer" not in rows[next(iter(KINDS))]:
            continue
        cells = " | ".join(
            " / ".join(
                f"{figure(rows[kind]['ours_per_peer'].get(database), '.2f')}×" for database in databases
            )
            for kind in KINDS
        )
        lines.append(f"| {servers[key]['name']} | {cells} |")
    return "\n".join(lines) + "\n"


def print_summary(results, databases):
    print(
        f"\n{results['machine']['cores']} cores, wrk -t{results['wrk']['threads']} -c{results['wrk']['connections']},"
        f" rounds: {results['wrk']['rounds']} of {results['wrk']['seconds']:g} s, medians"
    )
    ratio_headers = "".join(f" {'ours ' + database + '/peer':>20}" for database in databases)
    print(f"{'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} {'CPU ms/req':>10}{ratio_headers}  row")
    for row in results["rows"]:
        ratios = row.get("ours_per_peer", {})
        cells = "".join(f" {figure(ratios.get(database), '.2f'):>20}" for database in databases)
        print(
            f"{row['requests_per_second']:9.1f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} {row['non_2xx']:7d}"
            f" {figure(row['cpu_ms_per_request'], '.2f'):>10}{cells}  {row['title']}"
        )
    print("\nresident memory per worker at the end, MB:")
    for server in results["servers"]:
        workers = ", ".join(f"{worker['rss_mb']:.0f}" for worker in server["workers"])
        print(f"  {server['name']}: {workers}")
    for skipped in results["skipped"]:
        print(f"!!!!! SKIPPED LOUDLY: {skipped['peer']}: {skipped['reason']}")


def run(arguments):
    runnable, skipped = load_peers()
    with tempfile.TemporaryDirectory(prefix="oauth-peers-") as work, contextlib.ExitStack() as stack:
        work_dir = Path(work)
        bench = throughput.Bench(arguments, work_dir)
        print("baking (run_setup=y) ...", flush=True)
        peers.ours.bake(work_dir)
        load_before = os.getloadavg()
        targets = start_targets(stack, bench, work_dir, arguments.databases, runnable)
        results = measure_rounds(bench, [target for _, target in targets])
        rows = [
            summarize_row(module_name, target, kind, results[target.key, kind])
            for kind in KINDS
            for module_name, target in targets
        ]
        add_ratios(rows)
        summary = {
            "machine": machine_facts(load_before),
            "wrk": {
                "threads": arguments.threads,
                "connections": arguments.connections,
                "seconds": arguments.seconds,
                "rounds": arguments.rounds,
            },
            "rows": rows,
            "servers": [server_report(target) for _, target in targets],
            "skipped": skipped,
        }
    print_summary(summary, arguments.databases)
    tables = markdown_tables(summary, arguments.databases)
    print("\n" + tables)
    if arguments.markdown:
        arguments.markdown.write_text(tables)
    if arguments.json:
        arguments.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_arguments()))
