"""
Gunicorn settings for production: `gunicorn --config gunicorn.conf.py config.wsgi` (the Procfile).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
https://docs.gunicorn.org/en/stable/settings.html
"""

import logging
import math
import os
import signal
from pathlib import Path

import environ
from gunicorn.glogging import Logger

# The production environment file (docs/deploy.md, step 4) holds gunicorn's variables below too; the
# settings read it again, and a real environment variable wins over it in both.
if os.environ.get("DJANGO_ENV_FILE"):
    environ.Env.read_env(os.environ["DJANGO_ENV_FILE"], overwrite=False)

# Loopback only: the reverse proxy in front (deploy/nginx.conf) is the one way in, so no client
# can send the forwarded headers below past it. Platforms (Heroku, Render, Fly, ...) and
# containers, whose router is the only thing that reaches the port, listen everywhere:
# GUNICORN_BIND=0.0.0.0:$PORT (the Procfile says --bind). $PORT is where platforms say to listen.
bind = [os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]
# The proxies whose X-Forwarded-Proto sets the request's scheme (https); the application's
# throttling takes the client address from X-Forwarded-For on their connections only. `*` where
# nothing but the platform's router can reach the port.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# A container is often allowed fewer CPUs than its host has: os.cpu_count() counts the host's.
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max=CGROUP_CPU_MAX):
    """The CPUs this process may run on, capped by a cgroup v2 CPU quota ("200000 100000": 2)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):  # no cgroup v2 file here, or not of that form
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


# One process per core: a Python process runs Python on one core at a time. Threads fill the
# time a request waits for the database. Measured on this project: see docs/performance.md#the-server.
# WEB_CONCURRENCY is the platforms' name for the number of processes.
workers = int(os.environ.get("WEB_CONCURRENCY", usable_cpus()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# A request that runs longer than this is a bug or an attack: the worker is replaced.
timeout = 30
# A worker told to stop (SIGTERM: a stop, a rolling restart, or a reload's old workers) first
# drains: for DRAIN_SECONDS it goes on serving while /readyz answers 503, so that load balancers
# and Kubernetes take it out of rotation before it stops accepting; then it finishes the requests
# in flight, within graceful_timeout. docs/operations.md.
DRAIN_SECONDS = float(os.environ.get("GUNICORN_DRAIN_SECONDS", 5))
graceful_timeout = math.ceil(DRAIN_SECONDS) + 30


def post_worker_init(worker):
    # Imported in the worker, once Django is set up: the module belongs to the application.
    from authserver.endpoints import probes as health

    def drain(signum, frame):
        # Once: a reload's master repeats SIGTERM to an old worker until it is gone.
        if health.draining.is_set():
            return
        health.draining.set()
        if DRAIN_SECONDS > 0:
            # Then gunicorn's own graceful stop, in the main thread, which the alarm wakes (sync
            # workers sleep in select() between requests, gthread workers poll each second).
            signal.signal(signal.SIGALRM, worker.handle_exit)
            signal.setitimer(signal.ITIMER_REAL, DRAIN_SECONDS)
        else:
            worker.handle_exit(signum, frame)

    # Replaces gunicorn's own SIGTERM handler (Worker.handle_exit), which stops accepting at once.
    signal.signal(signal.SIGTERM, drain)


# Behind a proxy that keeps connections to us open; harmless without one.
keepalive = 5
# Recycle workers now and then, so a slow leak in any library never takes a server down; rarely:
# each restart re-imports Django (a second of a core), and at 2,000 requests a busy worker did
# that every few seconds. The benchmark reports each worker's memory growth (docs/performance.md).
max_requests = 100_000
max_requests_jitter = 10_000
# Heartbeat files on a memory file system: a slow disk must not look like a stuck worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Requests are logged by the application (authserver/middleware/request_logging.py): one JSON line each,
# with the request id and without the query string, where authorization codes travel.
accesslog = None


class ApplicationLogsRequests(Logger):
    """No access log line, not even one built to be dropped.

    With logconfig_dict set, gunicorn formats the access log line of every request even when
    accesslog is None, then discards it: about a tenth of the CPU time of a bearer-token check
    (docs/performance.md#what-each-change-bought).
    """

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


logger_class = ApplicationLogsRequests


class GracefulWorkerExit(logging.Filter):
    """Log a worker stopped by SIGTERM at INFO: only the master sends it, on a reload or a stop.

    gunicorn 23 logs "Worker (pid:N) was sent SIGTERM!" at ERROR for every worker a graceful
    reload (HUP) replaces (benoitc/gunicorn#3050), which alerting on errors would page for. Later
    releases log it at INFO themselves: this filter can go when pyproject.toml's lower bound for
    gunicorn passes 23.
    """

    def filter(self, record):
        if record.levelno == logging.ERROR and record.getMessage().endswith("was sent SIGTERM!"):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


# Gunicorn's own messages (worker boot, timeouts) in the same JSON form as the application's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"graceful_worker_exit": {"()": GracefulWorkerExit}},
    "formatters": {"json": {"()": "authserver.middleware.request_logging.JSONFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["graceful_worker_exit"],
        }
    },
}
