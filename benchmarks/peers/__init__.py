"""
The peers the benchmark measures beside the project: one module per server, each with a
`start(bench, work_dir, database)` context manager that yields a validated Target.
"""

from dataclasses import dataclass

import throughput


@dataclass
class Request:
    """One wrk row's request, replayed as is."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None


@dataclass
class Target:
    """A running peer: its server process tree is the one measured (CPU, RSS)."""

    name: str
    key: str
    database: str
    server: "throughput.Server"
    requests: dict[str, Request]
