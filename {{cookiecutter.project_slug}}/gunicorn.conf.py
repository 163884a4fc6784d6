"""
Gunicorn settings for production: `gunicorn --config gunicorn.conf.py config.wsgi` (the Procfile).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
https://docs.gunicorn.org/en/stable/settings.html
"""

import os

# Platforms (Heroku, Render, Fly, ...) say where to listen in $PORT.
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]

# One process per core: a Python process runs Python on one core at a time. Threads fill the
# time a request waits for the database. Measured on this project: see README, "The server".
# WEB_CONCURRENCY is the platforms' name for the number of processes.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# A request that runs longer than this is a bug or an attack: the worker is replaced.
timeout = 30
graceful_timeout = 30
# Behind a proxy that keeps connections to us open; harmless without one.
keepalive = 5
# Recycle workers now and then, so a slow leak in any library never takes a server down; rarely:
# each restart re-imports Django (a second of a core), and at 2,000 requests a busy worker did
# that every few seconds. The benchmark reports each worker's memory growth (README, "Performance").
max_requests = 100_000
max_requests_jitter = 10_000
# Heartbeat files on a memory file system: a slow disk must not look like a stuck worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Requests are logged by the application ({{ cookiecutter.project_slug }}/middleware/request_logging.py): one JSON line each,
# with the request id and without the query string, where authorization codes travel.
accesslog = None
# Gunicorn's own messages (worker boot, timeouts) in the same JSON form as the application's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "{{ cookiecutter.project_slug }}.middleware.request_logging.JSONFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
