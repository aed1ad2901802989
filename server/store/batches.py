"""The queries of receiving a batch: the device's chain head, the
idempotency cache, the boots' clock anchors, what is already stored under
the batch's UUIDs and sequence numbers, and writing the records, findings
and conflicts :func:`server.ingest.plan_batch` decided on.

Every function takes the connection of the batch's one transaction
(:class:`server.batches.BatchIngest` opens it). The statements every batch
runs are built once, and records are inserted with one ``executemany`` at
the driver: per batch, building SQL in Python would cost more than the
database's own work.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from server.clock import BootAnchor, CorrectedTime, utc_text
from server.ingest import Finding, Outcome, StoredRef, content_digest
from server.store import tables
from server.store.records import FIELD_COLUMNS, columns_of_record, hash_text, record_of_row
from sync.record import KIND_RATING

__all__ = [
    "lock_device",
    "cached_answer",
    "boot_anchors",
    "save_anchor",
    "refs_at_uuids",
    "refs_at_seqs",
    "held_by_another",
    "update_device",
    "add_records",
    "RecordStager",
    "UuidHeldElsewhere",
    "add_receipt",
    "record_row",
    "add_findings",
    "add_conflicts",
    "resolve_gaps",
    "save_answer",
    "forget_answers",
]

# Keep IN lists well under every database's limit on bound parameters.
_CHUNK = 500

# A place in the chain needs only the hashes; a UUID already stored needs the
# whole record, whose content is compared with the one re-sent.
_REF_COLUMNS = (tables.records.c.device_id, tables.records.c.seq, tables.records.c.uuid, tables.records.c.hash,
                tables.records.c.prev_hash)
_DEVICE_FOR_UPDATE = (
    select(tables.devices).where(tables.devices.c.device_id == bindparam("device_id")).with_for_update()
)
_CACHED_ANSWER = select(tables.batches.c.records_digest, tables.batches.c.answer).where(
    tables.batches.c.device_id == bindparam("device_id"),
    tables.batches.c.idempotency_key == bindparam("idempotency_key"),
)
_BOOTS = select(tables.boots).where(
    tables.boots.c.device_id == bindparam("device_id"),
    tables.boots.c.boot_id.in_(bindparam("boot_ids", expanding=True)),
)
_REFS_BY_UUID = select(*FIELD_COLUMNS).where(tables.records.c.uuid.in_(bindparam("uuids", expanding=True)))
# SQLite's planner weighs an IN list of a batch's UUIDs against the table's
# size in its statistics; statistics gathered while the table was small
# (they are refreshed hourly) made it read the whole table for every batch,
# ever slower as the ratings grew. Walking the list (CROSS JOIN keeps it the
# outer loop) and looking each UUID up in the index is right at any size.
_REFS_BY_UUID_SQLITE = (
    f"SELECT {', '.join('records.' + c.name for c in FIELD_COLUMNS)} "
    "FROM json_each(?) AS wanted CROSS JOIN records ON records.uuid = wanted.value"
)
# As above, the batch's UUIDs drive the lookup whatever the statistics say.
_HELD_BY_ANOTHER_SQLITE = (
    "SELECT 1 FROM json_each(?) AS wanted CROSS JOIN records ON records.uuid = wanted.value "
    "WHERE records.device_id <> ? LIMIT 1"
)
_HELD_BY_ANOTHER = select(tables.records.c.id).where(
    tables.records.c.uuid.in_(bindparam("uuids", expanding=True)),
    tables.records.c.device_id != bindparam("device_id"),
).limit(1)
_REFS_BY_SEQ = select(*_REF_COLUMNS).where(
    tables.records.c.device_id == bindparam("device_id"),
    tables.records.c.seq.in_(bindparam("seqs", expanding=True)),
)
_REFS_BY_SEQ_RANGE = select(*_REF_COLUMNS).where(
    tables.records.c.device_id == bindparam("device_id"),
    tables.records.c.seq.between(bindparam("low"), bindparam("high")),
)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- reading what is known -------------------------------------------------------


def lock_device(conn: Connection, device_id: str) -> Mapping[str, Any]:
    """The device's row, locked until the transaction ends: one batch of a
    device is applied at a time."""
    return conn.execute(_DEVICE_FOR_UPDATE, {"device_id": device_id}).mappings().one()


def cached_answer(conn: Connection, device_id: str, idempotency_key: str) -> tuple[str, bytes] | None:
    """The records digest and compact answer kept for an idempotency key, if it was seen."""
    row = conn.execute(_CACHED_ANSWER, {"device_id": device_id, "idempotency_key": idempotency_key}).first()
    return (row[0], row[1]) if row is not None else None


def boot_anchors(conn: Connection, device_id: str, boot_ids: Collection[str]) -> dict[str, BootAnchor]:
    """The clock anchors stored for these boots of the device."""
    anchors: dict[str, BootAnchor] = {}
    for chunk in _chunks(sorted(boot_ids)):
        for row in conn.execute(_BOOTS, {"device_id": device_id, "boot_ids": chunk}).mappings():
            anchors[row["boot_id"]] = BootAnchor(
                row["boot_id"], row["anchor_monotonic_ns"], datetime.fromisoformat(row["anchor_server_time"])
            )
    return anchors


def save_anchor(conn: Connection, device_id: str, anchor: BootAnchor) -> None:
    """Store (or replace) a boot's clock anchor."""
    values = dict(anchor_monotonic_ns=anchor.monotonic_ns, anchor_server_time=utc_text(anchor.server_time))
    done = conn.execute(
        update(tables.boots)
        .where(tables.boots.c.device_id == device_id, tables.boots.c.boot_id == anchor.boot_id)
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(tables.boots).values(device_id=device_id, boot_id=anchor.boot_id, **values))


def _rows_at_uuids(conn: Connection, uuids: Collection[str]) -> Iterator[Mapping[str, Any]]:
    """The records stored under any of these UUIDs, by any device (their :data:`FIELD_COLUMNS`)."""
    if not uuids:
        return
    if conn.dialect.name == "sqlite":
        yield from conn.exec_driver_sql(_REFS_BY_UUID_SQLITE, (json.dumps(sorted(uuids)),)).mappings()
        return
    for chunk in _chunks(sorted(uuids)):
        yield from conn.execute(_REFS_BY_UUID, {"uuids": chunk}).mappings()


def refs_at_uuids(conn: Connection, device_id: str,
                  uuids: Collection[str]) -> tuple[dict[str, StoredRef], dict[str, str]]:
    """What the device has stored under these UUIDs, and which other device
    holds any of them (by UUID)."""
    by_uuid: dict[str, StoredRef] = {}
    foreign: dict[str, str] = {}
    for row in _rows_at_uuids(conn, uuids):
        if row["device_id"] != device_id:
            foreign.setdefault(row["uuid"], row["device_id"])
            continue
        record = record_of_row(row)
        by_uuid[record.uuid] = StoredRef(record.device_id, record.seq, record.uuid, record.hash,
                                         content_digest(record), record.prev_hash)
    return by_uuid, foreign


def refs_at_seqs(conn: Connection, device_id: str, seqs: Collection[int]) -> dict[int, StoredRef]:
    """What the device has stored at these sequence numbers (their links only)."""
    by_seq: dict[int, StoredRef] = {}
    if not seqs:
        return by_seq
    if max(seqs) - min(seqs) < 2 * len(seqs):
        # A batch is nearly always a run of consecutive sequence numbers:
        # one range query reads the same rows (and few others) without
        # binding every number.
        queries = [(_REFS_BY_SEQ_RANGE, {"device_id": device_id, "low": min(seqs), "high": max(seqs)})]
    else:
        queries = [(_REFS_BY_SEQ, {"device_id": device_id, "seqs": chunk}) for chunk in _chunks(sorted(seqs))]
    for query, parameters in queries:
        for device, seq, uuid, hash_, prev_hash in conn.execute(query, parameters):
            # The content digest is not needed at a place in the chain: only the links are compared.
            by_seq[seq] = StoredRef(device, seq, uuid, hash_text(hash_), "", hash_text(prev_hash))
    return by_seq


def held_by_another(conn: Connection, device_id: str, uuids: Collection[str]) -> bool:
    """Whether a device other than ``device_id`` holds a record under any of these UUIDs."""
    if not uuids:
        return False
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql(_HELD_BY_ANOTHER_SQLITE, (json.dumps(sorted(uuids)), device_id)).first() is not None
    return any(conn.execute(_HELD_BY_ANOTHER, {"uuids": chunk, "device_id": device_id}).first() is not None
               for chunk in _chunks(sorted(uuids)))


# -- writing ---------------------------------------------------------------------


@lru_cache(maxsize=64)
def _device_update(columns: tuple[str, ...]) -> Update:
    # Built once per set of columns: building and keying a statement per
    # batch cost several times what SQLite takes to run it.
    return (update(tables.devices).where(tables.devices.c.device_id == bindparam("target_device"))
            .values({column: bindparam(f"new_{column}") for column in columns}))


def update_device(conn: Connection, device_id: str, values: Mapping[str, Any]) -> None:
    """Change the device's row (last seen, clock, chain head, counts)."""
    parameters = {f"new_{column}": value for column, value in values.items()}
    parameters["target_device"] = device_id
    conn.execute(_device_update(tuple(sorted(values))), parameters)


_ADD_RECEIPT = insert(tables.receipts).values(device_id=bindparam("device_id"), batch_key=bindparam("batch_key"),
                                             received_at=bindparam("received_at"))


def add_receipt(conn: Connection, device_id: str, batch_key: str, stamp: str) -> int:
    """Note that a batch brought records, and when; returns the receipt's id
    (each record names its receipt instead of repeating the key and time)."""
    return conn.execute(_ADD_RECEIPT, {"device_id": device_id, "batch_key": batch_key,
                                       "received_at": stamp}).inserted_primary_key[0]


def record_row(receipt_id: int, outcome: Outcome, flags: Sequence[str]) -> dict[str, Any]:
    """The ``records`` row of a record the plan keeps, with its final flags,
    received in the batch of ``receipt_id`` (:func:`add_receipt`)."""
    record = outcome.record
    corrected: CorrectedTime = outcome.placed
    row = columns_of_record(record)
    row.update(
        corrected_time=utc_text(corrected.time), time_method=corrected.method, clock_offset_s=corrected.offset_s,
        receipt_id=receipt_id, flags=" ".join(flags),
        callback_requested=bool(record.callback_phone or record.callback_box) if record.kind != KIND_RATING else None,
    )
    return row


# Compiled INSERT statements by dialect, table and columns: the SQL text and,
# for each of its positional parameters, the place of its value among the
# columns (None when the parameters are named).
_INSERTS: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, tuple[int, ...] | None]] = {}


def _insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys, with one executemany at the driver."""
    keys = tuple(rows[0])
    values_of = itemgetter(*keys)
    _insert_values(conn, table, keys, [values_of(row) for row in rows] if len(keys) > 1
                   else [(row[keys[0]],) for row in rows])


def _insert_values(conn: Connection, table: Table, keys: tuple[str, ...], values: list[Sequence[Any]]) -> None:
    """Insert rows given as values in the order of ``keys``, with one
    executemany at the driver (one COPY on PostgreSQL).

    For every row SQLAlchemy builds and type-processes the parameters in
    Python, which for a batch of records costs more than the database's own
    work. Here the statement is compiled once per dialect and the values,
    plain str, int, float, bool, bytes and None that every DB-API driver takes
    as they are, go straight to the driver: in the order given when it is the
    statement's (keys in the table's column order), else put in that order.
    """
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, keys, values)
        return
    sql, order = _compiled_insert(conn, table, keys)
    if order is None:
        conn.exec_driver_sql(sql, [dict(zip(keys, row, strict=True)) for row in values])
    elif order == tuple(range(len(keys))):
        conn.exec_driver_sql(sql, values)
    else:
        values_at = itemgetter(*order)
        conn.exec_driver_sql(sql, [values_at(row) if len(order) > 1 else (values_at(row),) for row in values])


def _compiled_insert(conn: Connection, table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[int, ...] | None]:
    """The INSERT of ``keys`` into ``table`` for the connection's dialect, compiled once:
    its SQL and, for each positional parameter, the place of its value in ``keys``."""
    cache_key = (conn.dialect.name, conn.dialect.driver, table.name, keys)
    compiled = _INSERTS.get(cache_key)
    if compiled is None:
        # Compiled as for executemany: no RETURNING of the new ids, which
        # some dialects add for a single-row insert.
        statement = insert(table).compile(dialect=conn.dialect, column_keys=list(keys), for_executemany=True)
        sql = statement.string
        if not statement.positional:
            order = None
        elif conn.dialect.paramstyle == "qmark" and sorted(statement.positiontup or ()) == sorted(keys):
            # The same statement with its columns in the order of ``keys``
            # (SQLAlchemy lists them in the table's): the values go as they are.
            preparer = conn.dialect.identifier_preparer
            sql = (f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(k) for k in keys)}) "
                   f"VALUES ({', '.join('?' * len(keys))})")
            order = tuple(range(len(keys)))
        else:
            order = tuple(keys.index(key) for key in statement.positiontup or ())
        compiled = _INSERTS[cache_key] = (sql, order)
    return compiled


def _copy_rows(conn: Connection, table: Table, keys: tuple[str, ...], values: list[Sequence[Any]]) -> None:
    """PostgreSQL: the rows (their values in the order of ``keys``) through
    one COPY, inside the connection's transaction. The driver's executemany
    sends a statement per row, a VALUES list of many rows makes the server
    parse thousands of parameters; COPY is PostgreSQL's own bulk path. A
    driver error is raised as SQLAlchemy's, as for any statement (a refused
    batch, a full disk)."""
    preparer = conn.dialect.identifier_preparer
    sql = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(k) for k in keys)}) FROM STDIN"
    driver = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in values:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(conn, sql, exc) from exc


def _as_sqlalchemy_error(conn: Connection, sql: str, exc: Exception) -> DBAPIError:
    """A driver's error from a statement run past SQLAlchemy, raised as
    SQLAlchemy's would be (so a full disk or a refused row is told apart
    the same way as for any statement)."""
    return DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect)


def add_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert records' rows (built by :func:`record_row`)."""
    if rows:
        _insert_many(conn, tables.records, rows)


class UuidHeldElsewhere(Exception):
    """A record the :class:`RecordStager` inserted has a UUID another device holds."""


class RecordStager:
    """A batch's records inserted chunk by chunk while the caller makes the
    next chunk: on SQLite, SQLite's part of the insert runs on another core.

    Each chunk is bound into a temporary table by the caller's thread (the
    part of an insert that needs Python: its values), then moved into
    ``records`` by one ``INSERT … SELECT`` on a thread of its own, which
    SQLite runs without Python's lock while the caller goes on. The
    connection runs one statement at a time: every call first waits for the
    move before it. Call :meth:`finish` before anything else uses the
    connection (it raises a move's error, as SQLAlchemy's), or
    :meth:`abandon` when giving up. On other databases, or when not
    ``beside`` (a small batch, whose chunk is all of it), each chunk goes in
    with one insert (one COPY on PostgreSQL).

    The rows are the values of ``columns``; every row is the device's
    (``device_id``), and of the batch received under ``batch_key`` at
    ``stamp``: the stager writes the batch's receipt with the first rows
    (:func:`add_receipt`) and adds both to each row. Until then it has
    written nothing (:attr:`wrote`).

    The UUIDs the records bring are looked up as they go in, not before:
    the device's own UUIDs and sequence numbers are kept unique by the
    table's constraints (an insert that would repeat one raises
    SQLAlchemy's ``IntegrityError``), and :meth:`finish` raises
    :class:`UuidHeldElsewhere` when another device holds one of them. On
    SQLite each chunk's lookup is part of its move, beside the caller too.

    Once it has written, a failure leaves the transaction to be rolled back
    whole: on SQLite a move the constraints refuse rolls it back at once
    (``INSERT OR ROLLBACK``). A statement that could fail on its own, or a
    savepoint around the rows, would have SQLite copy every page the moves
    change aside first, to undo them alone: that took more than half the
    moves' time.
    """

    def __init__(self, conn: Connection, columns: tuple[str, ...], device_id: str, batch_key: str, stamp: str, *,
                 beside: bool = True):
        self.conn = conn
        self.columns = columns
        self.device_id = device_id
        self.batch_key = batch_key
        self.stamp = stamp
        self.receipt_id: int | None = None
        """The batch's receipt, once written with the first rows."""
        self._uuid_at = columns.index("uuid")
        self._pending: Future[Any] | None = None
        self._driver: Any = None
        self._empty = True  # whether the temporary table holds no chunk
        self._uuids: list[str] = []  # inserted without the temporary table: looked up at the end
        self._held_elsewhere = False
        if conn.dialect.name == "sqlite" and beside:
            self._driver = conn.connection.driver_connection
            names = ", ".join(columns)
            self._fill = f"INSERT INTO temp.{_STAGED} ({names}) VALUES ({', '.join('?' * len(columns))})"
            # A row whose UUID another device holds is left out, which the
            # count of rows inserted tells: the lookup rides on the move, one
            # statement, as a second one would wait for Python's lock to be run.
            self._move = (f"INSERT OR ROLLBACK INTO main.records ({names}, device_id, receipt_id) "
                          f"SELECT {names}, ?1, ?2 FROM temp.{_STAGED} AS staged "
                          "WHERE NOT EXISTS (SELECT 1 FROM main.records AS held "
                          "WHERE held.uuid = staged.uuid AND held.device_id <> ?1)")
            self._staged = 0
            self._statement(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} AS SELECT {names} FROM main.records WHERE 0")
            self._statement(f"DELETE FROM temp.{_STAGED}")

    @property
    def wrote(self) -> bool:
        """Whether anything was written (the receipt and rows): the transaction
        must then be rolled back whole if the batch is not stored this way."""
        return self.receipt_id is not None

    def add(self, rows: list[Sequence[Any]]) -> None:
        """Insert these rows (values of the stager's columns)."""
        if not rows:
            return
        if self.receipt_id is None:
            self.receipt_id = add_receipt(self.conn, self.device_id, self.batch_key, self.stamp)
        if self._driver is None:
            own = (self.device_id, self.receipt_id)
            _insert_values(self.conn, tables.records, (*self.columns, "device_id", "receipt_id"),
                           [(*row, *own) for row in rows])
            self._uuids.extend(row[self._uuid_at] for row in rows)
            return
        self._wait()
        if not self._empty:
            self._statement(f"DELETE FROM temp.{_STAGED}")
        self._statement(self._fill, rows=rows)
        self._empty = False
        self._staged = len(rows)
        started = threading.Event()
        self._pending = _MOVERS.submit(self._move_chunk, started)
        # Waiting hands Python's lock to the mover at once (left to itself,
        # it would wait for this thread's switch interval, 5 ms, to start).
        started.wait()

    def _move_chunk(self, started: threading.Event) -> None:
        started.set()
        if self._statement(self._move, (self.device_id, self.receipt_id)) < self._staged:
            self._held_elsewhere = True

    def finish(self) -> None:
        """Wait until every chunk is in ``records``; raise
        :class:`UuidHeldElsewhere` if another device holds a UUID of theirs."""
        self._wait()
        if self._uuids and held_by_another(self.conn, self.device_id, self._uuids):
            self._held_elsewhere = True
        if self._held_elsewhere:
            raise UuidHeldElsewhere

    def abandon(self) -> None:
        """Wait for a move under way, whatever becomes of it (the caller
        rolls back what was inserted)."""
        try:
            self._wait()
        except DBAPIError:
            pass

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _statement(self, sql: str, parameters: Sequence[Any] = (), *,
                   rows: list[Sequence[Any]] | None = None) -> int:
        """Run one statement at the driver; how many rows it changed."""
        try:
            cursor = self._driver.execute(sql, parameters) if rows is None else self._driver.executemany(sql, rows)
            changed = cursor.rowcount
            cursor.close()
            return changed
        except self.conn.dialect.loaded_dbapi.Error as exc:
            raise _as_sqlalchemy_error(self.conn, sql, exc) from exc


_STAGED = "staged_records"
# The threads that move staged chunks into the records table (one at a time
# per connection; SQLite has one writer at a time anyway).
_MOVERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="records-mover")


def add_findings(conn: Connection, device_id: str, findings: Sequence[Finding], *, stamp: str,
                 batch_key: str) -> None:
    """Note findings on the device, found in the batch under ``batch_key``."""
    if findings:
        conn.execute(insert(tables.findings), [
            dict(device_id=device_id, seq=f.seq, uuid=f.uuid, problem=f.problem,
                 detail=f.detail, found_at=stamp, batch_key=batch_key)
            for f in findings
        ])


def add_conflicts(conn: Connection, device_id: str, conflicts: Sequence[Outcome], *, stamp: str) -> None:
    """Keep refused conflicting records aside, as evidence."""
    if conflicts:
        conn.execute(insert(tables.conflicts), [
            dict(device_id=device_id, uuid=o.uuid, seq=o.seq, body=_dumps(o.record.to_dict()), received_at=stamp)
            for o in conflicts
        ])


def resolve_gaps(conn: Connection, device_id: str, filled: Sequence[int], stamp: str) -> None:
    """Mark gap findings resolved once every record they said was missing
    has arrived, each late one linking to its neighbours.

    A gap finding names its first missing sequence number and the UUID of
    the record that found it, the first one after the hole; the gap is
    closed when the server holds every record in between. A late record
    that did not link both ways is not in ``filled`` (it is a finding of
    its own), so the gap it sits in stays open."""
    findings, records = tables.findings, tables.records
    for seq in sorted(set(filled)):
        gap = conn.execute(
            select(findings.c.id, findings.c.seq, records.c.seq.label("end"))
            .join(records, (records.c.uuid == findings.c.uuid) & (records.c.device_id == findings.c.device_id))
            .where(findings.c.device_id == device_id, findings.c.problem == "gap",
                   findings.c.resolved_at.is_(None), findings.c.seq <= seq)
            .order_by(findings.c.seq.desc())
            .limit(1)
        ).first()
        if gap is None or not gap.seq <= seq < gap.end:
            continue
        held = conn.execute(
            select(func.count()).select_from(records)
            .where(records.c.device_id == device_id, records.c.seq.between(gap.seq, gap.end - 1))
        ).scalar_one()
        if held == gap.end - gap.seq:
            conn.execute(update(findings).where(findings.c.id == gap.id).values(resolved_at=stamp))


_SAVE_ANSWER = insert(tables.batches).values(
    {name: bindparam(name) for name in ("device_id", "idempotency_key", "records_digest", "answer", "received_at")})


def save_answer(conn: Connection, device_id: str, idempotency_key: str, records_digest: str, answer: bytes,
                stamp: str) -> None:
    """Keep a batch's compact answer (:func:`server.batches.compact_answer`)
    under its idempotency key, for replays."""
    conn.execute(_SAVE_ANSWER, dict(device_id=device_id, idempotency_key=idempotency_key,
                                    records_digest=records_digest, answer=answer, received_at=stamp))


def forget_answers(conn: Connection, before: str) -> int:
    """Drop the answers kept for batches received before ``before`` (UTC
    text); returns how many."""
    return conn.execute(delete(tables.batches).where(tables.batches.c.received_at < before)).rowcount
