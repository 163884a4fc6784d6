# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The SQLite database holds sessions, authorization codes and token hashes: readable by its owner
only, like .env and the signing key, whatever the umask it was created under.
"""

import contextlib
from pathlib import Path

# Besides the database, SQLite's WAL mode keeps recent writes in these files next to it.
COMPANION_SUFFIXES = ("-wal", "-shm")


def keep_database_files_private(sender, connection, **kwargs):
    """Connected to connection_created in apps.py: on each new connection, before any query of Django's."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    database = Path(connection.settings_dict["NAME"])
    for path in (database, *(database.with_name(database.name + suffix) for suffix in COMPANION_SUFFIXES)):
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode
            if mode & 0o077:
                path.chmod(mode & 0o700)
