"""The call-back numbers' keys on the tablet: the server's public key, and
each details record's own key sealed to it until the server has it.

Neither lets the tablet read a number back (:mod:`kiosk.callback_box`). A
sealed key is written in the same transaction as its details record
(:meth:`kiosk.store.journal.Journal.append`), sent beside the records by the
uploader, and deleted once the server has acknowledged the record (the file
zeroes what it deletes: ``secure_delete``), so the server holds the only copy
it can destroy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from kiosk.store.database import TabletDatabase

__all__ = ["CallbackKeys", "SERVER_KEY"]

SERVER_KEY = "callback_server_key"
"""The ``device`` table's row holding the server's public key (base64)."""


class CallbackKeys:
    """The server's key and the sealed keys waiting to be sent."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def server_key(self) -> str | None:
        """The server's public key as received (base64), or None before pairing told it."""
        row = self.database.conn.execute("SELECT value FROM device WHERE key = ?", [SERVER_KEY]).fetchone()
        return row[0] if row and row[0] else None

    def set_server_key(self, key: str | None) -> None:
        """Keep (or, with None, forget) the server's public key."""
        with self.database.write() as conn:
            if key:
                conn.execute("INSERT INTO device (key, value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [SERVER_KEY, key])
            else:
                conn.execute("DELETE FROM device WHERE key = ?", [SERVER_KEY])

    @staticmethod
    def add(conn: sqlite3.Connection, record_uuid: str, sealed_key: bytes) -> None:
        """Keep a record's sealed key, inside the transaction appending the record."""
        conn.execute("INSERT INTO callback_keys (record_uuid, sealed_key) VALUES (?, ?)", [record_uuid, sealed_key])

    def sealed_for(self, record_uuids: Collection[str]) -> dict[str, bytes]:
        """The sealed keys still held for these records, by record UUID."""
        uuids = sorted(record_uuids)
        found: dict[str, bytes] = {}
        for start in range(0, len(uuids), 500):
            chunk = uuids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            found.update({uuid: bytes(key) for uuid, key in self.database.conn.execute(
                f"SELECT record_uuid, sealed_key FROM callback_keys WHERE record_uuid IN ({marks})", chunk)})
        return found

    def forget(self, record_uuids: Collection[str]) -> None:
        """Delete the sealed keys of records the server has acknowledged."""
        uuids = sorted(record_uuids)
        if not uuids:
            return
        with self.database.write() as conn:
            for start in range(0, len(uuids), 500):
                chunk = uuids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                conn.execute(f"DELETE FROM callback_keys WHERE record_uuid IN ({marks})", chunk)

    def count(self) -> int:
        """How many sealed keys wait to be sent."""
        return self.database.conn.execute("SELECT count(*) FROM callback_keys").fetchone()[0]
