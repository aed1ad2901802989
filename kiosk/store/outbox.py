"""The outbox: which records still have to reach the server, which batch is
in flight, and what the server said about each record.

Everything is kept in the tablet's database, so a restart resumes where it
stopped: the batch in flight is sent again with the same idempotency key, and
an acknowledged record is never sent again.

:class:`OutboxLedger` holds the two tables (``outbox_acks``: the server's
verdict per record; ``outbox_state``: the uploader's values across restarts)
and their queries; :class:`Outbox` is what the uploader works with.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kiosk.store.database import TabletDatabase
from kiosk.store.device_time import device_time_text
from kiosk.store.journal import from_row
from sync.protocol import RecordStatus
from sync.record import Record

if TYPE_CHECKING:
    from kiosk.store.store import Store

__all__ = ["AckSummary", "Batch", "Outbox", "OutboxLedger"]

_INFLIGHT = "inflight_batch"
_ACKED_THROUGH = "acked_through"

# A journal record not acknowledged yet. Records up to "acked_through" are all
# acknowledged, so the scan starts after it instead of at the first record.
_PENDING = (
    "FROM journal j WHERE j.seq > ? AND NOT EXISTS "
    "(SELECT 1 FROM outbox_acks a WHERE a.seq = j.seq)"
)


class OutboxLedger:
    """The outbox's tables in one tablet database."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def pending_records(self, limit: int | None = None) -> list[Record]:
        """Records the server has not acknowledged yet, in sequence order."""
        sql = f"SELECT * {_PENDING} ORDER BY j.seq"
        params: list[Any] = [self._acked_through()]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [from_row(row) for row in self.database.query(sql, params)]

    def pending_count(self) -> int:
        """How many records are waiting to be sent."""
        return self.database.execute(
            f"SELECT count(*) {_PENDING}", [self._acked_through()]
        ).fetchone()[0]

    def acknowledge(self, acks: list[tuple[int, str, str, str]], at: datetime) -> None:
        """Note records as acknowledged by the server: ``(seq, uuid, status,
        detail)`` each, durably, so a restart never sends them again."""
        stamp = device_time_text(at)
        with self.database.write() as conn:
            conn.executemany(
                "INSERT INTO outbox_acks (seq, uuid, status, detail, acked_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(seq) DO NOTHING",
                [(seq, uuid, status, detail, stamp) for seq, uuid, status, detail in acks],
            )
            # Everything up to the first record still pending is done: later
            # queries start there instead of scanning the whole journal.
            through = conn.execute(
                "SELECT value FROM outbox_state WHERE key = ?", [_ACKED_THROUGH]
            ).fetchone()
            start = int(through[0]) if through else 0
            first_pending = conn.execute(f"SELECT min(j.seq) {_PENDING}", [start]).fetchone()[0]
            if first_pending is None:
                last = conn.execute("SELECT max(seq) FROM outbox_acks").fetchone()[0] or 0
                new_through = max(start, last)
            else:
                new_through = first_pending - 1
            _put_state(conn, _ACKED_THROUGH, str(new_through))

    def acks(self) -> list[dict]:
        """The server's answer for every acknowledged record, in sequence order."""
        return list(self.database.query("SELECT * FROM outbox_acks ORDER BY seq"))

    def state(self, key: str) -> str | None:
        """A value the uploader keeps across restarts (in-flight batch, last success, last error)."""
        row = self.database.execute("SELECT value FROM outbox_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str | None) -> None:
        """Keep (or, with ``None``, forget) an uploader value durably."""
        with self.database.write() as conn:
            if value is None:
                conn.execute("DELETE FROM outbox_state WHERE key = ?", [key])
            else:
                _put_state(conn, key, value)

    def _acked_through(self) -> int:
        value = self.state(_ACKED_THROUGH)
        return int(value) if value else 0


def _put_state(conn: Any, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO outbox_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


@dataclass(frozen=True)
class Batch:
    """Records sent together under one idempotency key."""

    key: str
    records: tuple[Record, ...]


@dataclass(frozen=True)
class AckSummary:
    """What one answer acknowledged."""

    acknowledged: int
    stored: int
    duplicate: int
    conflict: int
    rejected: int
    unanswered: int
    """Records of the batch the answer did not mention: they stay pending."""
    uuids: tuple[str, ...] = ()
    """The UUIDs of the records acknowledged."""


class Outbox:
    """The pending records of one tablet store (used on one thread)."""

    def __init__(self, store: Store):
        self.store = store
        self.ledger: OutboxLedger = store.outbox_ledger

    def pending_count(self) -> int:
        """Records not acknowledged yet."""
        return self.ledger.pending_count()

    def next_batch(self, size: int) -> Batch | None:
        """The next records to send, or ``None`` when everything is sent.

        The batch in flight when the tablet stopped is returned again with its
        key, so the server can answer a retry from its idempotency cache.
        """
        inflight = self._inflight()
        if inflight is not None:
            records = self.ledger.pending_records(inflight["count"])
            seqs = [r.seq for r in records]
            same = seqs and (seqs[0], seqs[-1], len(seqs)) == (inflight["first"], inflight["last"], inflight["count"])
            if same:
                return Batch(inflight["key"], tuple(records))
        records = self.ledger.pending_records(size)
        if not records:
            self.ledger.set_state(_INFLIGHT, None)
            return None
        batch = Batch(uuid_module.uuid4().hex, tuple(records))
        self.ledger.set_state(_INFLIGHT, json.dumps(
            {"key": batch.key, "first": records[0].seq, "last": records[-1].seq, "count": len(records)}
        ))
        return batch

    def forget_inflight(self) -> None:
        """Drop the in-flight batch's key: the next batch gets a fresh one."""
        self.ledger.set_state(_INFLIGHT, None)

    def acknowledge(self, batch: Batch, answer: dict[str, Any], at: datetime) -> AckSummary:
        """Mark the records the answer speaks of as sent, with the server's verdict.

        Each result is read on its own with the contract's
        :class:`sync.wire.RecordResult`, and trusted only when its index, UUID
        and sequence number all match the record sent at that place; anything
        else stays pending (and is sent again).
        """
        from sync import wire  # only once a batch is answered: not on the start path

        counts = {status: 0 for status in RecordStatus.ALL}
        acks: list[tuple[int, str, str, str]] = []
        results = answer.get("results") if isinstance(answer, dict) else None
        for item in results if isinstance(results, list) else []:
            try:
                result = wire.parse(wire.RecordResult, item)
            except wire.WireError:
                continue
            if not 0 <= result.index < len(batch.records):
                continue
            record = batch.records[result.index]
            if result.uuid not in (record.uuid, None) or result.seq not in (record.seq, None):
                continue
            counts[result.status] += 1
            detail = f"{result.detail} [{' '.join(result.flags)}]" if result.flags else result.detail
            acks.append((record.seq, record.uuid, result.status, detail[:500]))
        if acks:
            self.ledger.acknowledge(acks, at)
        self.forget_inflight()
        return AckSummary(
            acknowledged=len(acks), stored=counts[RecordStatus.STORED], duplicate=counts[RecordStatus.DUPLICATE],
            conflict=counts[RecordStatus.CONFLICT], rejected=counts[RecordStatus.REJECTED],
            unanswered=len(batch.records) - len(acks),
            uuids=tuple(uuid for _seq, uuid, _status, _detail in acks),
        )

    def _inflight(self) -> dict[str, Any] | None:
        text = self.ledger.state(_INFLIGHT)
        if not text:
            return None
        try:
            data = json.loads(text)
            return data if isinstance(data, dict) and {"key", "first", "last", "count"} <= set(data) else None
        except ValueError:
            return None
