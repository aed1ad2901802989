"""Receiving one authenticated batch: the idempotency cache, the clock
observation, and storing what :func:`server.ingest.plan_batch` decided — all
in one transaction, so a batch is either wholly applied or not at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update

from server import db
from server.db import write_transaction
from server.clock import (
    BootAnchor,
    ClockObservation,
    CorrectedTime,
    clock_is_off,
    correct,
    newer_anchor,
    parse_device_time,
    utc_text,
)
from server.ingest import ChainHead, IngestPlan, StoredRef, item_text, plan_batch
from sync.protocol import MAX_INT, RecordStatus
from sync.record import KIND_RATING, Record

__all__ = ["Batch", "BatchAnswer", "BatchIngest", "IdempotencyKeyReused", "records_digest"]

# Keep IN lists well under every database's limit on bound parameters.
_CHUNK = 500


class IdempotencyKeyReused(Exception):
    """The batch's idempotency key was used before for different records."""


@dataclass(frozen=True)
class Batch:
    """A batch's envelope, checked, with its records still in wire form."""

    device_id: str
    idempotency_key: str
    sent_at: datetime
    sent_monotonic_ns: int
    boot_id: str
    app_version: str
    pending: int
    records: list[Any]


@dataclass(frozen=True)
class BatchAnswer:
    """The answer to a batch, both as data and as the JSON text that is kept
    for replays and sent back (encoded once)."""

    content: dict[str, Any]
    text: str

    @property
    def replay(self) -> bool:
        """Whether this repeats the answer first given under the idempotency key."""
        return bool(self.content.get("replay"))

    @property
    def body(self) -> bytes:
        """The text as the HTTP body."""
        return self.text.encode("utf-8")


def records_digest(records: list[Any], texts: Sequence[str] | None = None) -> str:
    """What an idempotency key is bound to: the records, not the envelope.

    A retry refreshes the envelope's device time (so the clock reading is
    fresh) but must carry the same records under the same key.

    The digest is of the records list as compact JSON, keys sorted, ASCII
    only; ``texts`` are its items already encoded with
    :func:`server.ingest.item_text`, which the list's encoding is made of."""
    if texts is None:
        texts = [item_text(item) for item in records]
    return hashlib.sha256(("[" + ",".join(texts) + "]").encode("ascii")).hexdigest()


# The queries every batch runs, built once: building an expression and its
# cache key anew for each batch costs more than SQLite's answer.
_REF_COLUMNS = (db.records.c.device_id, db.records.c.seq, db.records.c.uuid, db.records.c.hash, db.records.c.digest,
                db.records.c.prev_hash)
_DEVICE_FOR_UPDATE = (
    select(db.devices).where(db.devices.c.device_id == bindparam("device_id")).with_for_update()
)
_CACHED_ANSWER = select(db.batches.c.records_digest, db.batches.c.response).where(
    db.batches.c.device_id == bindparam("device_id"),
    db.batches.c.idempotency_key == bindparam("idempotency_key"),
)
_BOOTS = select(db.boots).where(
    db.boots.c.device_id == bindparam("device_id"), db.boots.c.boot_id.in_(bindparam("boot_ids", expanding=True))
)
_REFS_BY_UUID = select(*_REF_COLUMNS).where(db.records.c.uuid.in_(bindparam("uuids", expanding=True)))
_REFS_BY_SEQ = select(*_REF_COLUMNS).where(
    db.records.c.device_id == bindparam("device_id"), db.records.c.seq.in_(bindparam("seqs", expanding=True))
)
_REFS_BY_SEQ_RANGE = select(*_REF_COLUMNS).where(
    db.records.c.device_id == bindparam("device_id"),
    db.records.c.seq.between(bindparam("low"), bindparam("high")),
)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


# Compiled INSERT statements by dialect, table and columns: the SQL text and
# the order of its positional parameters (None when they are named).
_INSERTS: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys, with one executemany at the driver.

    For every row SQLAlchemy builds and type-processes the parameters in
    Python, which for a batch of records costs more than the database's own
    work. Here the statement is compiled once per dialect and the values,
    plain str, int, float, bool and None that every DB-API driver takes as
    they are, go straight to the driver.
    """
    keys = tuple(rows[0])
    cache_key = (conn.dialect.name, conn.dialect.driver, table.name, keys)
    compiled = _INSERTS.get(cache_key)
    if compiled is None:
        # Compiled as for executemany: no RETURNING of the new ids, which
        # some dialects add for a single-row insert.
        statement = insert(table).compile(dialect=conn.dialect, column_keys=list(keys), for_executemany=True)
        order = tuple(statement.positiontup or ()) if statement.positional else None
        compiled = _INSERTS[cache_key] = (statement.string, order)
    sql, order = compiled
    if order is None:
        conn.exec_driver_sql(sql, rows)
    elif len(order) == 1:
        conn.exec_driver_sql(sql, [(row[order[0]],) for row in rows])
    else:
        values_of = itemgetter(*order)
        conn.exec_driver_sql(sql, [values_of(row) for row in rows])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class BatchIngest:
    """Applies batches to the server database."""

    def __init__(self, engine: Engine, *, clock_threshold_s: float = 300.0):
        self.engine = engine
        self.clock_threshold_s = clock_threshold_s

    def receive(self, batch: Batch, received_at: datetime) -> BatchAnswer:
        """Store a batch from an authenticated, active device and return the
        answer for it: one result per record, in the batch's order.

        A batch whose idempotency key was seen before with the same records is
        answered with the first answer (``replay``: true) and changes nothing
        but the device's last-seen state. Raises :class:`IdempotencyKeyReused`
        when the key was seen with other records.
        """
        texts = [item_text(item) for item in batch.records]
        digest = records_digest(batch.records, texts)
        observation = ClockObservation(batch.boot_id, batch.sent_monotonic_ns, batch.sent_at, received_at)
        return write_transaction(
            self.engine, lambda conn: self._apply(conn, batch, texts, digest, observation, received_at)
        )

    def _apply(self, conn: Connection, batch: Batch, texts: list[str], digest: str,
               observation: ClockObservation, received_at: datetime) -> BatchAnswer:
        """:meth:`receive`'s work, inside its transaction (which may run it more than once)."""
        device = conn.execute(_DEVICE_FOR_UPDATE, {"device_id": batch.device_id}).mappings().one()
        cached = conn.execute(
            _CACHED_ANSWER, {"device_id": batch.device_id, "idempotency_key": batch.idempotency_key}
        ).first()
        if cached is not None and cached[0] != digest:
            raise IdempotencyKeyReused()

        anchors = self._anchors(conn, batch)
        fresh = newer_anchor(anchors.get(batch.boot_id), observation)
        device_values: dict[str, Any] = {
            "last_seen_at": utc_text(received_at),
            "pending_count": batch.pending,
            "app_version": batch.app_version,
        }
        if fresh:
            anchors[batch.boot_id] = observation.anchor()
            self._save_anchor(conn, batch.device_id, observation.anchor())
            device_values.update(
                clock_offset_s=observation.offset_s,
                clock_checked_at=utc_text(received_at),
                clock_off=clock_is_off(observation.offset_s, self.clock_threshold_s),
            )
        if cached is not None:
            conn.execute(update(db.devices).where(db.devices.c.device_id == batch.device_id).values(**device_values))
            answer = json.loads(cached[1])
            answer["replay"] = True
            return BatchAnswer(answer, _dumps(answer))

        head = ChainHead(device["head_seq"], device["head_hash"], device["head_boot_id"],
                         device["head_monotonic_ns"])
        by_uuid, by_seq = self._known(conn, batch)
        # Records of a boot that never sent a batch are shifted by the freshest offset we have.
        fallback = observation.offset_s if fresh else (device["clock_offset_s"] or observation.offset_s)

        def place(record: Record) -> CorrectedTime:
            # Worked out while planning, so a record whose corrected time
            # falls off the calendar is refused alone instead of failing
            # the whole batch (which the tablet would resend forever).
            corrected = correct(parse_device_time(record.device_time), record.boot_id,
                                record.monotonic_ns, anchors, fallback)
            return CorrectedTime(corrected.time.astimezone(timezone.utc), corrected.method, corrected.offset_s)

        plan = plan_batch(batch.device_id, batch.records, head, by_uuid, by_seq, texts, place=place)
        stamp = utc_text(received_at)
        self._store(conn, batch, plan, stamp)
        self._resolve_gaps(conn, batch.device_id, plan.filled, stamp)
        device_values.update(
            head_seq=plan.head.seq,
            head_hash=plan.head.hash,
            head_boot_id=plan.head.boot_id,
            head_monotonic_ns=plan.head.monotonic_ns,
            records_count=device["records_count"] + len(plan.to_store),
        )
        conn.execute(update(db.devices).where(db.devices.c.device_id == batch.device_id).values(**device_values))
        answer = self._answer(batch, plan, observation, stamp)
        text = _dumps(answer)
        conn.execute(insert(db.batches).values(
            device_id=batch.device_id, idempotency_key=batch.idempotency_key,
            records_digest=digest, response=text, received_at=stamp,
        ))
        return BatchAnswer(answer, text)

    # -- reading what is known ---------------------------------------------------

    def _anchors(self, conn, batch: Batch) -> dict[str, BootAnchor]:
        boot_ids = {batch.boot_id}
        for item in batch.records:
            if isinstance(item, dict) and isinstance(item.get("boot_id"), str):
                boot_ids.add(item["boot_id"])
        anchors: dict[str, BootAnchor] = {}
        for chunk in _chunks(sorted(boot_ids)):
            for row in conn.execute(_BOOTS, {"device_id": batch.device_id, "boot_ids": chunk}).mappings():
                anchors[row["boot_id"]] = BootAnchor(
                    row["boot_id"], row["anchor_monotonic_ns"], datetime.fromisoformat(row["anchor_server_time"])
                )
        return anchors

    def _save_anchor(self, conn, device_id: str, anchor: BootAnchor) -> None:
        values = dict(anchor_monotonic_ns=anchor.monotonic_ns, anchor_server_time=utc_text(anchor.server_time))
        done = conn.execute(
            update(db.boots)
            .where(db.boots.c.device_id == device_id, db.boots.c.boot_id == anchor.boot_id)
            .values(**values)
        )
        if done.rowcount == 0:
            conn.execute(insert(db.boots).values(device_id=device_id, boot_id=anchor.boot_id, **values))

    def _known(self, conn, batch: Batch) -> tuple[dict[str, StoredRef], dict[int, StoredRef]]:
        uuids: set[str] = set()
        seqs: set[int] = set()
        for item in batch.records:
            if not isinstance(item, dict):
                continue
            uuid, seq = item.get("uuid"), item.get("seq")
            if isinstance(uuid, str) and len(uuid) <= 64:
                uuids.add(uuid)
            if isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_INT:
                # The one after too: a late record must be linked to by its successor.
                seqs.update((seq - 1, seq, seq + 1))
        by_uuid: dict[str, StoredRef] = {}
        for chunk in _chunks(sorted(uuids)):
            for row in conn.execute(_REFS_BY_UUID, {"uuids": chunk}):
                by_uuid[row[2]] = StoredRef(*row)
        by_seq: dict[int, StoredRef] = {}
        if seqs and max(seqs) - min(seqs) < 2 * len(seqs):
            # A batch is nearly always a run of consecutive sequence numbers:
            # one range query reads the same rows (and few others) without
            # binding every number.
            queries = [(_REFS_BY_SEQ_RANGE, {"device_id": batch.device_id, "low": min(seqs), "high": max(seqs)})]
        else:
            queries = [(_REFS_BY_SEQ, {"device_id": batch.device_id, "seqs": chunk}) for chunk in _chunks(sorted(seqs))]
        for query, parameters in queries:
            for row in conn.execute(query, parameters):
                by_seq[row[1]] = StoredRef(*row)
        return by_uuid, by_seq

    # -- writing -------------------------------------------------------------------

    def _store(self, conn, batch: Batch, plan: IngestPlan, stamp: str) -> None:
        rows = list(self._record_rows(batch, plan, stamp))
        if rows:
            _insert_many(conn, db.records, rows)
        if plan.findings:
            conn.execute(insert(db.findings), [
                dict(device_id=batch.device_id, seq=f.seq, uuid=f.uuid, problem=f.problem,
                     detail=f.detail, found_at=stamp, batch_key=batch.idempotency_key)
                for f in plan.findings
            ])
        if plan.conflicts:
            conn.execute(insert(db.conflicts), [
                dict(device_id=batch.device_id, uuid=o.uuid, seq=o.seq,
                     body=_dumps(o.record.to_dict()), received_at=stamp)
                for o in plan.conflicts
            ])

    def _resolve_gaps(self, conn, device_id: str, filled: list[int], stamp: str) -> None:
        """Mark gap findings resolved once every record they said was missing
        has arrived, each late one linking to its neighbours.

        A gap finding names its first missing sequence number and the UUID of
        the record that found it, the first one after the hole; the gap is
        closed when the server holds every record in between. A late record
        that did not link both ways is not in ``filled`` (it is a finding of
        its own), so the gap it sits in stays open."""
        for seq in sorted(set(filled)):
            gap = conn.execute(
                select(db.findings.c.id, db.findings.c.seq, db.records.c.seq.label("end"))
                .join(db.records, (db.records.c.uuid == db.findings.c.uuid)
                      & (db.records.c.device_id == db.findings.c.device_id))
                .where(db.findings.c.device_id == device_id, db.findings.c.problem == "gap",
                       db.findings.c.resolved_at.is_(None), db.findings.c.seq <= seq)
                .order_by(db.findings.c.seq.desc())
                .limit(1)
            ).first()
            if gap is None or not gap.seq <= seq < gap.end:
                continue
            held = conn.execute(
                select(func.count()).select_from(db.records)
                .where(db.records.c.device_id == device_id, db.records.c.seq.between(gap.seq, gap.end - 1))
            ).scalar_one()
            if held == gap.end - gap.seq:
                conn.execute(update(db.findings).where(db.findings.c.id == gap.id).values(resolved_at=stamp))

    def _record_rows(self, batch: Batch, plan: IngestPlan, stamp: str) -> Iterable[dict[str, Any]]:
        for outcome in plan.to_store:
            record = outcome.record
            corrected: CorrectedTime = outcome.placed
            flags = set(outcome.flags)
            if clock_is_off(corrected.offset_s, self.clock_threshold_s):
                flags.add("clock_off")
            if record.kind == KIND_RATING and record.burst:
                flags.add("burst")
            if record.simulated:
                flags.add("simulated")
            outcome.flags = tuple(sorted(flags))
            yield dict(
                device_id=batch.device_id, seq=record.seq, uuid=record.uuid, kind=record.kind,
                hash=record.hash, prev_hash=record.prev_hash, digest=outcome.digest,
                body=outcome.wire_text, boot_id=record.boot_id, monotonic_ns=record.monotonic_ns,
                device_time=record.device_time, corrected_time=utc_text(corrected.time),
                time_method=corrected.method, clock_offset_s=corrected.offset_s, received_at=stamp,
                batch_key=batch.idempotency_key, flags=" ".join(outcome.flags),
                officer_id=record.officer_id, counter_id=record.counter_id, score=record.score,
                scale=record.scale, level=record.level, burst=record.burst, simulated=record.simulated,
                rating_uuid=record.rating_uuid,
                reasons=_dumps(list(record.reasons)) if record.reasons is not None else None,
                callback_requested=bool(record.callback_phone) if record.kind != KIND_RATING else None,
            )

    def _answer(self, batch: Batch, plan: IngestPlan, observation: ClockObservation, stamp: str) -> dict[str, Any]:
        counts = {status: 0 for status in RecordStatus.ALL}
        results = []
        for o in plan.outcomes:
            counts[o.status] += 1
            results.append({
                "index": o.index, "uuid": o.uuid, "seq": o.seq, "status": o.status,
                "http_status": o.http_status, "error": o.error, "detail": o.detail, "flags": list(o.flags),
            })
        return {
            "device_id": batch.device_id,
            "idempotency_key": batch.idempotency_key,
            "received_at": stamp,
            "clock_offset_s": observation.offset_s,
            "replay": False,
            "counts": counts,
            "results": results,
        }
