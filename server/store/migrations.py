"""Bringing a database made by an older version up to date.

``create_all`` makes the tables that are missing, not the columns a newer
version added to an existing table; each such change is applied here, once,
when the database is opened.

Whole new tables need no step: the dashboard's accounts, sessions,
login_attempts and audit_log tables, the follow-up's cases and
case_events tables, and the letters table, appear in an older database when it is next opened,
through ``create_all`` (with their indexes and unique keys).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text

from server.answer_cache import compact_answer_json
from server.store import statistics, tables
from server.store.records import columns_of_record
from server.store.tables import RATING_INDEXES, RETIRED_INDEXES, findings
from sync.record import KIND_RATING, Record

__all__ = ["upgrade"]

log = logging.getLogger("hailong.server.migrations")
# Rows copied per statement when a table is rebuilt.
_COPY_CHUNK = 2000


def upgrade(engine: Engine) -> None:
    """Add columns that newer versions use to a database made by an older one
    (create_all makes missing tables, not missing columns)."""
    present = {column["name"] for column in inspect(engine).get_columns("findings")}
    if "resolved_at" not in present:
        # The column's type as this database spells it (VARCHAR(40), plus the
        # collation on PostgreSQL), so an upgraded table matches a new one.
        kind = findings.c.resolved_at.type.compile(dialect=engine.dialect)
        # PostgreSQL can say IF NOT EXISTS: a second process opening the same
        # database at that moment must not fail on the column the first added.
        # (On SQLite the two queue for the write lock and the check above is the guard.)
        guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE findings ADD COLUMN {guard}resolved_at {kind}"))
    if "body" in {column["name"] for column in inspect(engine).get_columns("records")}:
        _rebuild(engine, tables.records, _RecordColumns())
    if "response" in {column["name"] for column in inspect(engine).get_columns("batches")}:
        _rebuild(engine, tables.batches, _answer_columns)
    _add_rating_indexes(engine)
    for table, name in _SEAL_COLUMNS + _FORMAT_3_COLUMNS + _CORRECTION_COLUMNS + _SURVEY_COLUMNS:
        _add_column(engine, table, name)
    if tables.DOSSIER_INDEX.name not in {index["name"] for index in inspect(engine).get_indexes("records")}:
        tables.DOSSIER_INDEX.create(engine, checkfirst=True)
    with engine.begin() as conn:
        stale = statistics.missing(conn)
    if stale:
        statistics.refresh(engine)


class _RecordColumns:
    """A record's row in the compact layout, from the row that kept its wire
    text in ``body`` (the text was verified when it arrived, so it parses);
    the batch key and time it was received become a receipt, one per batch."""

    def __init__(self) -> None:
        self.receipts: dict[tuple[str, str, str], int] = {}

    def __call__(self, conn: Connection, old: dict[str, Any]) -> dict[str, Any]:
        record = Record.from_dict(json.loads(old["body"]))
        row = columns_of_record(record)
        row.update({name: old[name] for name in ("id", "corrected_time", "time_method", "clock_offset_s", "flags")})
        row["callback_requested"] = bool(record.callback_phone) if record.kind != KIND_RATING else None
        key = (old["device_id"], old["batch_key"] or "", old["received_at"])
        receipt = self.receipts.get(key)
        if receipt is None:
            receipt = self.receipts[key] = conn.execute(insert(tables.receipts).values(
                device_id=key[0], batch_key=key[1], received_at=key[2])).inserted_primary_key[0]
        row["receipt_id"] = receipt
        return row


def _answer_columns(_conn: Connection, old: dict[str, Any]) -> dict[str, Any]:
    """A kept answer in the compact form, from the whole JSON text."""
    return dict(device_id=old["device_id"], idempotency_key=old["idempotency_key"],
                records_digest=old["records_digest"], answer=compact_answer_json(old["response"]),
                received_at=old["received_at"])


def _rebuild(engine: Engine, table: Table, convert: Callable[[Connection, dict[str, Any]], dict[str, Any]]) -> None:
    """Rebuild ``table`` in its current layout from the older one, row by
    row through ``convert``, in one transaction: a crash leaves the old
    table as it was, and the next start tries again."""
    aside = f"{table.name}_before_upgrade"
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        total = conn.execute(select(func.count()).select_from(text(table.name))).scalar_one()
        log.info("upgrading the %s table to its new layout (%d rows, once)", table.name, total)
        # Index and constraint names belong to the schema, not the table: the
        # old ones are dropped or renamed so the new table can take them.
        for index in inspect(conn).get_indexes(table.name):
            if not index.get("duplicates_constraint"):  # those go with their constraint, renamed below
                conn.execute(text(f'DROP INDEX IF EXISTS "{index["name"]}"'))
        conn.execute(text(f"ALTER TABLE {table.name} RENAME TO {aside}"))
        if postgresql:
            for (name,) in conn.execute(text(
                    "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"), {"t": aside}):
                conn.execute(text(f'ALTER TABLE {aside} RENAME CONSTRAINT "{name}" TO "{name}_before_upgrade"'))
            for (name,) in conn.execute(text(
                    "SELECT pg_get_serial_sequence(:t, a.attname) FROM pg_attribute a "
                    "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"), {"t": aside}):
                if name:
                    conn.execute(text(f"ALTER SEQUENCE {name} RENAME TO {name.split('.')[-1]}_before_upgrade"))
        table.create(conn)
        copied = 0
        for rows in _old_rows(conn, aside):
            if not rows:
                continue  # an empty list would make SQLAlchemy insert one row of defaults
            conn.execute(insert(table), [convert(conn, row) for row in rows])
            copied += len(rows)
            if copied % 100_000 < _COPY_CHUNK:
                log.info("  %s: %d of %d rows", table.name, copied, total)
        if postgresql and "id" in table.c:
            # The ids were copied as they were: the new sequence starts after them.
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                              f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
        conn.execute(text(f"DROP TABLE {aside}"))
    log.info("the %s table is upgraded", table.name)


def _old_rows(conn: Connection, name: str) -> Iterator[list[dict[str, Any]]]:
    """The rows of the table set aside, a chunk at a time, in a stable order
    (by id where it has one, each chunk found through the key)."""
    if "id" not in {c["name"] for c in inspect(conn).get_columns(name)}:
        yield [dict(row) for row in conn.execute(text(f"SELECT * FROM {name}")).mappings()]
        return
    last = -1
    while True:
        rows = [dict(row) for row in conn.execute(
            text(f"SELECT * FROM {name} WHERE id > :last ORDER BY id LIMIT {_COPY_CHUNK}"), {"last": last}
        ).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


# Forward-secure seals (server.seals): the devices' keys and the records' seals.
_SEAL_COLUMNS = ((tables.devices, "seal_first_seq"), (tables.devices, "seal_seq"), (tables.devices, "seal_key"),
                 (tables.devices, "seal_key_id"), (tables.records, "seal"))
# Format 3 (sync.record): a rating's dossier code; corrections reuse the rating's columns.
_FORMAT_3_COLUMNS = ((tables.records, "dossier_code"), (tables.records, "callback_box"))
# A rating's first correction, kept on the rating's row (server.corrections).
_CORRECTION_COLUMNS = ((tables.records, "corrected_score"), (tables.records, "corrected_level"))
# Format 4 (sync.record): a survey record's fields.
_SURVEY_COLUMNS = tuple((tables.records, name) for name in
                        ("campaign_id", "questionnaire_id", "questionnaire_version", "answers", "complete"))


def _add_column(engine: Engine, table: Table, name: str) -> None:
    """Add a nullable column of ``table`` that an older database lacks (as
    the ``resolved_at`` step above does)."""
    if name in {column["name"] for column in inspect(engine).get_columns(table.name)}:
        return
    kind = table.c[name].type.compile(dialect=engine.dialect)
    guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {guard}{name} {kind}"))


def _add_rating_indexes(engine: Engine) -> None:
    """The dashboard's indexes on ``records``, on a database made before them
    (create_all makes a new table's indexes, not those added to an old one).
    Building them over a large table takes a while, once."""
    present = {index["name"] for index in inspect(engine).get_indexes("records")}
    for name in RETIRED_INDEXES:
        if name in present:
            with engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    for index in RATING_INDEXES.get(engine.dialect.name, ()):
        if index.name not in present:
            with engine.begin() as conn:
                index.create(conn, checkfirst=True)
