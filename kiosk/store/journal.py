"""The journal: the device's chained records (see ``sync.record``), append-only.

Triggers made by the first migration refuse UPDATE and DELETE; appending is
the only write, one durable transaction per record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from kiosk.store.database import TabletDatabase
from kiosk.store.sealing import forget_old_keys, seal_in_transaction
from sync.record import GENESIS_HASH, KIND_CORRECTION, KIND_RATING, ChainFinding, Record, seal, verify_chain

__all__ = ["Journal", "from_row", "to_row"]

_RECORD_COLUMNS = [f.name for f in fields(Record)]
_BOOL_COLUMNS = {"simulated", "burst", "callback_consent", "complete"}
# Columns added after the first journal (format 3's, format 4's survey
# fields): a file written before them may lack them, and reads them as NULL.
_LATER_COLUMNS = ("dossier_code", "callback_box", "campaign_id", "questionnaire_id", "questionnaire_version",
                  "answers", "complete")


class Journal:
    """The records of one tablet database, read and appended."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def append(self, build: Callable[[int, str], Record],
               beside: Callable[[sqlite3.Connection, Record], None] | None = None) -> Record:
        """Append one record and commit it durably.

        ``build(seq, prev_hash)`` makes the unsealed record for the next place
        in the chain; it runs inside the write transaction, so two writers can
        never take the same place. Once the tablet is paired the record is
        sealed in the same transaction, which replaces the sealing key by the
        next one (:mod:`kiosk.store.sealing`). ``beside(conn, record)`` writes
        what goes with the record outside the chain, in the same transaction
        (a call-back number's sealed key, :mod:`kiosk.store.callback_keys`).
        """
        with self.database.write() as conn:
            last = conn.execute(
                "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            record = seal_in_transaction(conn, seal(build(seq, prev_hash)))
            row = to_row(record)
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO journal ({columns}) VALUES ({marks})", list(row.values()))
            if beside is not None:
                beside(conn, record)
        if record.seal:
            # The key just replaced may still sit in the write-ahead log.
            forget_old_keys(conn)
        return record

    def records(self, after_seq: int = 0, limit: int | None = None) -> list[Record]:
        """Records in sequence order, after ``after_seq``."""
        sql = "SELECT * FROM journal WHERE seq > ? ORDER BY seq"
        params: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [from_row(row) for row in self.database.query(sql, params)]

    def record(self, uuid: str) -> Record | None:
        """The record with that UUID, if any."""
        rows = list(self.database.query("SELECT * FROM journal WHERE uuid = ?", [uuid]))
        return from_row(rows[0]) if rows else None

    def last_rating(self) -> Record | None:
        """The most recent rating (for burst detection)."""
        rows = list(
            self.database.query(
                # "+kind" keeps SQLite on the primary key, read backwards,
                # instead of sorting every rating through the kind index.
                "SELECT * FROM journal WHERE +kind = ? ORDER BY seq DESC LIMIT 1", [KIND_RATING]
            )
        )
        return from_row(rows[0]) if rows else None

    def ratings(self, officer_id: str | None = None) -> list[Record]:
        """All rating records, optionally of one officer, in order."""
        sql = "SELECT * FROM journal WHERE kind = ?"
        params: list[Any] = [KIND_RATING]
        if officer_id is not None:
            sql += " AND officer_id = ?"
            params.append(officer_id)
        return [from_row(row) for row in self.database.query(sql + " ORDER BY seq", params)]

    def details_for(self, rating_uuid: str) -> list[Record]:
        """Details records added to a rating."""
        return [
            from_row(row)
            for row in self.database.query(
                "SELECT * FROM journal WHERE rating_uuid = ? ORDER BY seq", [rating_uuid]
            )
        ]

    def correction_of(self, rating_uuid: str) -> Record | None:
        """The first correction of a rating, if any (only the first counts)."""
        rows = list(self.database.query(
            "SELECT * FROM journal WHERE rating_uuid = ? AND kind = ? ORDER BY seq LIMIT 1",
            [rating_uuid, KIND_CORRECTION]))
        return from_row(rows[0]) if rows else None

    def count(self, kind: str | None = None) -> int:
        """How many records (of one kind) the journal holds."""
        db = self.database
        if kind is None:
            return db.execute("SELECT count(*) FROM journal").fetchone()[0]
        return db.execute("SELECT count(*) FROM journal WHERE kind = ?", [kind]).fetchone()[0]

    def verify(self) -> list[ChainFinding]:
        """Check the whole chain; an empty list means it is intact."""
        return verify_chain(
            from_row(row) for row in self.database.query("SELECT * FROM journal ORDER BY seq")
        )


def to_row(record: Record) -> dict[str, Any]:
    """A record as the journal's columns hold it (reasons as JSON, flags as 0/1)."""
    row: dict[str, Any] = {}
    for name in _RECORD_COLUMNS:
        value = getattr(record, name)
        if name == "seal" and not value:
            continue  # unsealed: NULL, as in a file from before seals (whose journal may lack the column)
        if name in _LATER_COLUMNS and value is None:
            continue  # NULL, as in a file from before formats 3 and 4 (whose journal may lack the column)
        if name == "reasons" and value is not None:
            value = json.dumps(list(value), ensure_ascii=False)
        elif name in _BOOL_COLUMNS and value is not None:
            value = int(value)
        row[name] = value
    return row


def from_row(row: dict[str, Any]) -> Record:
    """The record a journal row holds."""
    values = {name: row[name] for name in _RECORD_COLUMNS if name != "seal" and name not in _LATER_COLUMNS}
    values["seal"] = row.get("seal") or ""
    for name in _LATER_COLUMNS:
        values[name] = row.get(name)
    if values["reasons"] is not None:
        values["reasons"] = tuple(json.loads(values["reasons"]))
    for name in _BOOL_COLUMNS:
        if values[name] is not None:
            values[name] = bool(values[name])
    return Record(**values)
