"""The tablet's local store: one SQLite file in WAL mode, opened with sqlite-utils.

The ``journal`` table holds the device's chained records (see ``sync.record``)
and is append-only: triggers refuse UPDATE and DELETE, and every append is one
``BEGIN IMMEDIATE`` transaction committed with ``synchronous=FULL``, so a
record whose :meth:`Store.append` has returned survives a killed process or a
power cut. Shifts (officer sign-in/out), the audit log of privileged actions and
PIN lock-out state live beside it.

One :class:`Store` per thread: SQLite connections do not cross threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid as uuid_module
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from sync.record import GENESIS_HASH, KIND_RATING, ChainFinding, Record, seal, verify_chain

__all__ = ["Store", "Shift", "StoreError"]

migrations = Migrations("hailong-kiosk")

_RECORD_COLUMNS = [f.name for f in fields(Record)]


class StoreError(RuntimeError):
    """The store could not be opened or written."""


@migrations()
def m001_journal(db: Database) -> None:
    """The chained records, append-only."""
    db["journal"].create(
        {
            "seq": int,
            "uuid": str,
            "kind": str,
            "v": int,
            "device_id": str,
            "prev_hash": str,
            "hash": str,
            "device_time": str,
            "monotonic_ns": int,
            "boot_id": str,
            "app_version": str,
            "simulated": int,
            "officer_id": str,
            "counter_id": str,
            "score": int,
            "scale": int,
            "level": str,
            "burst": int,
            "comment_token": str,
            "rating_uuid": str,
            "reasons": str,
            "callback_phone": str,
            "callback_consent": int,
        },
        pk="seq",
        not_null={"uuid", "kind", "hash", "prev_hash", "device_time"},
    )
    db["journal"].create_index(["uuid"], unique=True)
    db["journal"].create_index(["kind", "officer_id", "device_time"])
    db["journal"].create_index(["rating_uuid"])
    db.execute(
        "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal "
        "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal "
        "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"
    )


@migrations()
def m002_device(db: Database) -> None:
    """The device's identity, made once."""
    db["device"].create({"key": str, "value": str}, pk="key")
    db["device"].insert({"key": "device_id", "value": str(uuid_module.uuid4())})


@migrations()
def m003_shifts_audit_pins(db: Database) -> None:
    """Officer shifts, the audit log and PIN lock-out state."""
    db["shifts"].create(
        {
            "id": int,
            "officer_id": str,
            "counter_id": str,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
        not_null={"officer_id", "counter_id", "started_at"},
    )
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "detail": str},
        pk="id",
        not_null={"at", "action"},
    )
    db["pin_state"].create({"subject": str, "state": str}, pk="subject")


@dataclass(frozen=True)
class Shift:
    """An officer signed in at a counter, from ``started_at`` until ``ended_at``."""

    id: int
    officer_id: str
    counter_id: str
    started_at: str
    ended_at: str | None


def local_now() -> datetime:
    """The device's local time, with its UTC offset."""
    return datetime.now().astimezone()


def device_time_text(when: datetime) -> str:
    """The record's time format: ISO 8601 local time, milliseconds, UTC offset."""
    return when.isoformat(timespec="milliseconds")


class Store:
    """The tablet's SQLite file."""

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
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        self.device_id: str = self.db["device"].get("device_id")["value"]

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # -- journal -----------------------------------------------------------

    def append(self, build: Callable[[int, str], Record]) -> Record:
        """Append one record and commit it durably.

        ``build(seq, prev_hash)`` makes the unsealed record for the next place
        in the chain; it runs inside the write transaction, so two writers can
        never take the same place.
        """
        with self._write() as conn:
            last = conn.execute(
                "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            record = seal(build(seq, prev_hash))
            row = _to_row(record)
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO journal ({columns}) VALUES ({marks})", list(row.values()))
        return record

    def records(self, after_seq: int = 0, limit: int | None = None) -> list[Record]:
        """Records in sequence order, after ``after_seq``."""
        sql = "SELECT * FROM journal WHERE seq > ? ORDER BY seq"
        params: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_from_row(row) for row in self.db.query(sql, params)]

    def record(self, uuid: str) -> Record | None:
        """The record with that UUID, if any."""
        rows = list(self.db.query("SELECT * FROM journal WHERE uuid = ?", [uuid]))
        return _from_row(rows[0]) if rows else None

    def last_rating(self) -> Record | None:
        """The most recent rating (for burst detection)."""
        rows = list(
            self.db.query(
                # "+kind" keeps SQLite on the primary key, read backwards,
                # instead of sorting every rating through the kind index.
                "SELECT * FROM journal WHERE +kind = ? ORDER BY seq DESC LIMIT 1", [KIND_RATING]
            )
        )
        return _from_row(rows[0]) if rows else None

    def ratings(self, officer_id: str | None = None) -> list[Record]:
        """All rating records, optionally of one officer, in order."""
        sql = "SELECT * FROM journal WHERE kind = ?"
        params: list[Any] = [KIND_RATING]
        if officer_id is not None:
            sql += " AND officer_id = ?"
            params.append(officer_id)
        return [_from_row(row) for row in self.db.query(sql + " ORDER BY seq", params)]

    def details_for(self, rating_uuid: str) -> list[Record]:
        """Details records added to a rating."""
        return [
            _from_row(row)
            for row in self.db.query(
                "SELECT * FROM journal WHERE rating_uuid = ? ORDER BY seq", [rating_uuid]
            )
        ]

    def count(self, kind: str | None = None) -> int:
        """How many records (of one kind) the journal holds."""
        if kind is None:
            return self.db.execute("SELECT count(*) FROM journal").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM journal WHERE kind = ?", [kind]).fetchone()[0]

    def verify(self) -> list[ChainFinding]:
        """Check the whole chain; an empty list means it is intact."""
        return verify_chain(_from_row(row) for row in self.db.query("SELECT * FROM journal ORDER BY seq"))

    def integrity_ok(self) -> bool:
        """SQLite's own check of the file."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- shifts ------------------------------------------------------------

    def current_shift(self, counter_id: str) -> Shift | None:
        """The open shift at a counter, if an officer is signed in."""
        rows = list(
            self.db.query(
                "SELECT * FROM shifts WHERE counter_id = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
                [counter_id],
            )
        )
        return Shift(**rows[0]) if rows else None

    def start_shift(self, officer_id: str, counter_id: str, at: datetime) -> Shift:
        """Sign an officer in, ending whoever's shift was open at that counter."""
        stamp = device_time_text(at)
        with self._write() as conn:
            conn.execute(
                "UPDATE shifts SET ended_at = ? WHERE counter_id = ? AND ended_at IS NULL",
                [stamp, counter_id],
            )
            cursor = conn.execute(
                "INSERT INTO shifts (officer_id, counter_id, started_at) VALUES (?, ?, ?)",
                [officer_id, counter_id, stamp],
            )
            shift_id = cursor.lastrowid
        return Shift(shift_id, officer_id, counter_id, stamp, None)

    def end_shift(self, counter_id: str, at: datetime) -> None:
        """Sign out whoever is signed in at a counter."""
        with self._write() as conn:
            conn.execute(
                "UPDATE shifts SET ended_at = ? WHERE counter_id = ? AND ended_at IS NULL",
                [device_time_text(at), counter_id],
            )

    def shifts(self) -> list[Shift]:
        return [Shift(**row) for row in self.db.query("SELECT * FROM shifts ORDER BY id")]

    # -- audit and PIN state --------------------------------------------------

    def audit(self, action: str, *, actor: str | None = None, detail: dict | None = None) -> None:
        """Record a privileged action."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                [
                    device_time_text(local_now()),
                    actor,
                    action,
                    json.dumps(detail or {}, ensure_ascii=False),
                ],
            )

    def audit_log(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM audit ORDER BY id"))

    def pin_state(self, subject: str) -> dict:
        row = self.db.execute("SELECT state FROM pin_state WHERE subject = ?", [subject]).fetchone()
        return json.loads(row[0]) if row else {}

    def save_pin_state(self, subject: str, state: dict) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO pin_state (subject, state) VALUES (?, ?) "
                "ON CONFLICT(subject) DO UPDATE SET state = excluded.state",
                [subject, json.dumps(state)],
            )

    # -- outbox (what the server has acknowledged) ------------------------------

    @property
    def device_secret_path(self) -> Path:
        """Where the secret this device got at pairing is kept: a file beside
        the database, readable by its owner only."""
        return self.path.parent / f"{self.path.stem}.device-secret.json"

    def pending_records(self, limit: int | None = None) -> list[Record]:
        """Records the server has not acknowledged yet, in sequence order."""
        sql = (
            "SELECT * FROM journal j WHERE j.seq > ? AND NOT EXISTS "
            "(SELECT 1 FROM outbox_acks a WHERE a.seq = j.seq) ORDER BY j.seq"
        )
        params: list[Any] = [self._acked_through()]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_from_row(row) for row in self.db.query(sql, params)]

    def pending_count(self) -> int:
        """How many records are waiting to be sent."""
        return self.db.execute(
            "SELECT count(*) FROM journal j WHERE j.seq > ? AND NOT EXISTS "
            "(SELECT 1 FROM outbox_acks a WHERE a.seq = j.seq)",
            [self._acked_through()],
        ).fetchone()[0]

    def acknowledge(self, acks: list[tuple[int, str, str, str]], at: datetime) -> None:
        """Note records as acknowledged by the server: ``(seq, uuid, status,
        detail)`` each, durably, so a restart never sends them again."""
        stamp = device_time_text(at)
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO outbox_acks (seq, uuid, status, detail, acked_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(seq) DO NOTHING",
                [(seq, uuid, status, detail, stamp) for seq, uuid, status, detail in acks],
            )
            # Everything up to the first record still pending is done: later
            # queries start there instead of scanning the whole journal.
            through = conn.execute(
                "SELECT value FROM outbox_state WHERE key = 'acked_through'"
            ).fetchone()
            start = int(through[0]) if through else 0
            first_pending = conn.execute(
                "SELECT min(j.seq) FROM journal j WHERE j.seq > ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox_acks a WHERE a.seq = j.seq)",
                [start],
            ).fetchone()[0]
            if first_pending is None:
                last = conn.execute("SELECT max(seq) FROM outbox_acks").fetchone()[0] or 0
                new_through = max(start, last)
            else:
                new_through = first_pending - 1
            conn.execute(
                "INSERT INTO outbox_state (key, value) VALUES ('acked_through', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [str(new_through)],
            )

    def acks(self) -> list[dict]:
        """The server's answer for every acknowledged record, in sequence order."""
        return list(self.db.query("SELECT * FROM outbox_acks ORDER BY seq"))

    def outbox_state(self, key: str) -> str | None:
        """A value the uploader keeps across restarts (in-flight batch, last success, last error)."""
        row = self.db.execute("SELECT value FROM outbox_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_outbox_state(self, key: str, value: str | None) -> None:
        """Keep (or, with ``None``, forget) an uploader value durably."""
        with self._write() as conn:
            if value is None:
                conn.execute("DELETE FROM outbox_state WHERE key = ?", [key])
            else:
                conn.execute(
                    "INSERT INTO outbox_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

    def _acked_through(self) -> int:
        value = self.outbox_state("acked_through")
        return int(value) if value else 0


_BOOL_COLUMNS = {"simulated", "burst", "callback_consent"}


def _to_row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in _RECORD_COLUMNS:
        value = getattr(record, name)
        if name == "reasons" and value is not None:
            value = json.dumps(list(value), ensure_ascii=False)
        elif name in _BOOL_COLUMNS and value is not None:
            value = int(value)
        row[name] = value
    return row


def _from_row(row: dict[str, Any]) -> Record:
    values = {name: row[name] for name in _RECORD_COLUMNS}
    if values["reasons"] is not None:
        values["reasons"] = tuple(json.loads(values["reasons"]))
    for name in _BOOL_COLUMNS:
        if values[name] is not None:
            values[name] = bool(values[name])
    return Record(**values)



@migrations()
def m004_outbox(db: Database) -> None:
    """What the server has acknowledged, and the uploader's state across restarts."""
    db["outbox_acks"].create(
        {"seq": int, "uuid": str, "status": str, "detail": str, "acked_at": str},
        pk="seq",
        not_null={"uuid", "status", "acked_at"},
    )
    db["outbox_state"].create({"key": str, "value": str}, pk="key")
