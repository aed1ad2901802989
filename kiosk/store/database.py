"""Opening the tablet's SQLite file, and the transactions every part uses.

The file is in WAL mode with ``synchronous=FULL``: every write is one
``BEGIN IMMEDIATE`` transaction whose commit is synced to the drive, so what
a write has returned survives a killed process or a power cut.

One :class:`TabletDatabase` per thread: SQLite connections do not cross threads.

The everyday reads and writes go through :mod:`sqlite3` itself; sqlite-utils
(whose import, with its plugins, took a tenth of the kiosk's cold start) is
imported only when a migration is to be applied, or by :attr:`TabletDatabase.db`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.store.migrations import migrations, up_to_date

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["StoreError", "TabletDatabase"]


class StoreError(RuntimeError):
    """The store could not be opened or written."""


class TabletDatabase:
    """One connection to the tablet's file, migrated to the current schema."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Call-back phone numbers live here: owner only. SQLite gives
                # the -wal and -shm files the database file's permissions.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            # isolation_level=None: transactions are ours, begun explicitly.
            self.conn: sqlite3.Connection = sqlite3.connect(str(self.path), isolation_level=None, timeout=5.0)
            conn = self.conn
            # As sqlite-utils always set it: a REPLACE that would delete a
            # journal row fires the journal's no-delete trigger.
            conn.execute("PRAGMA recursive_triggers=ON")
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is synced at every commit, so a committed tap
            # survives a power cut, not only a killed process.
            conn.execute("PRAGMA synchronous=FULL")
            # What a write overwrites or deletes is zeroed, not left in the
            # page: the sealing key of the record before must not survive
            # its replacement (kiosk.store.sealing).
            conn.execute("PRAGMA secure_delete=ON")
            # A log reused after a checkpoint is cut to what the new
            # transaction wrote, so earlier page images (older keys) go.
            conn.execute("PRAGMA journal_size_limit=0")
            if not up_to_date(conn):
                migrations().apply(self.db)
            row = conn.execute("SELECT value FROM device WHERE key = 'device_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        self.device_id: str = row[0]

    @cached_property
    def db(self) -> Database:
        """A sqlite-utils handle on the same connection (for the migrations,
        checks and tests)."""
        from sqlite_utils import Database

        return Database(self.conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a SELECT, each as a dict by column name, read as iterated."""
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement outside any transaction of ours (a read, a PRAGMA)."""
        return self.conn.execute(sql, params)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One durable write transaction: committed on leaving, rolled back on an error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def integrity_ok(self) -> bool:
        """SQLite's own check of the file."""
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
