"""Opening the tablet's SQLite file, and the transactions every part uses.

The file is in WAL mode with ``synchronous=FULL``: every write is one
``BEGIN IMMEDIATE`` transaction whose commit is synced to the drive, so what
a write has returned survives a killed process or a power cut.

One :class:`TabletDatabase` per thread: SQLite connections do not cross threads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from kiosk.store.migrations import MIGRATIONS

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
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=5.0)
            self.db = Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is synced at every commit, so a committed tap
            # survives a power cut, not only a killed process.
            self.db.execute("PRAGMA synchronous=FULL")
            # What a write overwrites or deletes is zeroed, not left in the
            # page: the sealing key of the record before must not survive
            # its replacement (kiosk.store.sealing).
            self.db.execute("PRAGMA secure_delete=ON")
            # A log reused after a checkpoint is cut to what the new
            # transaction wrote, so earlier page images (older keys) go.
            self.db.execute("PRAGMA journal_size_limit=0")
            MIGRATIONS.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        self.device_id: str = self.db["device"].get("device_id")["value"]

    @property
    def conn(self) -> sqlite3.Connection:
        """The underlying SQLite connection."""
        return self.db.conn

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One durable write transaction: committed on leaving, rolled back on an error."""
        conn = self.db.conn
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
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
