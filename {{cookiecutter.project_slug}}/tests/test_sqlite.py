"""
The SQLite database file holds sessions and authorization codes: its owner's only
(authserver/sqlite.py).
"""

import os
import stat

import pytest
from django.db.utils import ConnectionHandler

pytestmark = pytest.mark.django_db


@pytest.fixture
def permissive_umask():
    """The usual umask, under which SQLite creates files readable by everyone (0644)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path, permissive_umask):
    database = tmp_path / "db.sqlite3"
    connections = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(database),
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;"},
            }
        }
    )
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE secrets (value TEXT)")
            cursor.execute("INSERT INTO secrets VALUES ('an authorization code')")
        files = sorted(path.name for path in tmp_path.iterdir())
        assert files == ["db.sqlite3", "db.sqlite3-shm", "db.sqlite3-wal"]
        modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in files}
        assert modes == dict.fromkeys(files, 0o600)
    finally:
        connections.close_all()
