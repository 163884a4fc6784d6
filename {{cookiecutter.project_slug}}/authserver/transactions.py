# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Transactions: rows locked for the request's transaction (ATOMIC_REQUESTS; view_policy.py), and
the short write transactions of the token endpoint, which takes its turn in order on SQLite.

Why turns: SQLite lets one transaction write at a time (ours begin IMMEDIATE, so each takes the
write lock first). A transaction that finds the lock taken polls for it, sleeping up to 100 ms
between tries (its busy handler), and a newcomer that tries at the right moment overtakes every
sleeper: under a steady load of token requests, some waited a second or more (p99 ~1 s at 8
connections, docs/performance.md). Writers that queue on a lock of the operating system instead
are woken as soon as it is free, and find the database's lock free too.
"""

import contextlib
import fcntl
import os
import threading

from django.db import connection, transaction


def lock_rows(queryset):
    """Lock the matching rows until the transaction ends: of two requests that redeem the same
    code or token at once, the second waits here for the first to commit, then finds it used."""
    return list(queryset.select_for_update())


class WritersTurn:
    """One writer at a time across the threads and processes that use the same `path`: the
    threads of a process queue on a lock, the processes on flock(2) of a file of their own. Each
    process opens the file itself (flock is shared by the processes a fork left holding one
    open file, such as gunicorn's workers)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}  # (process id, path) -> file descriptor

    @contextlib.contextmanager
    def __call__(self, path):
        with self.lock:
            key = (os.getpid(), path)
            if key not in self.files:
                self.files[key] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.files[key], fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.files[key], fcntl.LOCK_UN)


writers_turn = WritersTurn()


@contextlib.contextmanager
def write_transaction():
    """A transaction for writes that belong together (a savepoint inside another's); on an SQLite
    file, begun in turn (writers_turn) with the other writers of the token endpoint."""
    if connection.in_atomic_block or connection.vendor != "sqlite" or connection.is_in_memory_db():
        with transaction.atomic():
            yield
        return
    # Next to the database, as SQLite's own -wal and -shm files (sqlite.py keeps them private).
    with writers_turn(f"{connection.settings_dict['NAME']}-writers"), transaction.atomic():
        yield
