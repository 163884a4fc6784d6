"""
Which WSGI server, and how many processes and threads, for the baked project on this machine?

    uv run --extra test --extra bench python benchmarks/servers.py [--rounds 3] [--seconds 4]
        [--database-latency-ms 1]

Bakes the template, migrates a fresh PostgreSQL database, and drives the token endpoint
(client credentials) and /api/me/ (bearer token) through each server in turn, on loopback,
under production settings. Prints each variant as ratios to gunicorn's documented rule of
thumb (sync workers, 2 × cores + 1). About three minutes with the defaults.
"""

from harness import BIN_DIR, CORES, main


def gunicorn(worker_class, workers, threads=1):
    return [
        str(BIN_DIR / "gunicorn"),
        "--config=gunicorn.conf.py",
        f"--worker-class={worker_class}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--bind=127.0.0.1:{port}",
        "config.wsgi",
    ]


def granian(workers, blocking_threads):
    return [
        str(BIN_DIR / "granian"),
        "--interface=wsgi",
        f"--workers={workers}",
        f"--blocking-threads={blocking_threads}",
        "--host=127.0.0.1",
        "--port={port}",
        "--no-ws",
        "config.wsgi:application",
    ]


VARIANTS = {
    f"gunicorn sync, {2 * CORES + 1} workers (2 × cores + 1)": (gunicorn("sync", 2 * CORES + 1), {}),
    f"gunicorn sync, {CORES} workers": (gunicorn("sync", CORES), {}),
    f"gunicorn gthread, {CORES} workers × 4 threads": (gunicorn("gthread", CORES, 4), {}),
    f"gunicorn gthread, {2 * CORES + 1} workers × 2 threads": (gunicorn("gthread", 2 * CORES + 1, 2), {}),
    f"granian WSGI, {CORES} workers × 4 threads": (granian(CORES, 4), {}),
}

if __name__ == "__main__":
    main(__doc__, VARIANTS)
