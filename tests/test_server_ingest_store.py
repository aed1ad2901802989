"""The ingest's queries (server.store.batches): its look-ups in the records
table stay index look-ups whatever SQLite's statistics say (statistics
gathered while the table was small once made every batch read the whole
table), and its bulk insert (executemany on SQLite, COPY on PostgreSQL)
fails as any statement does. Run on PostgreSQL too by make test-postgres."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from server.batches import Batch, BatchIngest
from server.clock import CorrectedTime, utc_text
from server.ingest import Outcome
from server.plain_batch import PLAIN_ROW_COLUMNS
from server.registry import DeviceRegistry
from server.store import open_engine, statistics, tables, write_transaction
from server.store.batches import (
    RecordStager,
    add_records,
    held_by_another,
    record_row,
    refs_at_seqs,
    refs_at_uuids,
)
from sync.protocol import RecordStatus
from sync.record import GENESIS_HASH, KIND_RATING, Record, seal
from tests.sync_support import TEST_DATABASE_URL, ScratchDatabase, sqlite_only

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _chain(device_id: str, count: int) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        record = seal(Record(
            kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id=device_id, seq=seq, prev_hash=prev,
            device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=seq * 10**9, boot_id="boot",
            app_version="0.1.0", officer_id="lan", counter_id="quay-1", score=3, scale=3,
            level="very_satisfied", burst=False, comment_token="tok",
        ))
        records.append(record)
        prev = record.hash
    return records


def _pair(registry: DeviceRegistry, device_id: str) -> None:
    code = registry.request_code(device_id, "test", "0.1.0")
    registry.decide(code.user_code, approve=True)
    registry.poll(code.device_code)


def _upload(ingest: BatchIngest, records: list[Record]) -> None:
    batch = Batch(device_id=records[0].device_id, idempotency_key=uuid_module.uuid4().hex, sent_at=NOW,
                  sent_monotonic_ns=10**12, boot_id="boot", app_version="0.1.0", pending=0,
                  records=[r.to_dict() for r in records])
    answer = ingest.receive(batch, NOW).content
    assert answer.counts["stored"] == len(records)


@sqlite_only
def test_uuid_lookups_use_the_index_with_statistics_of_a_small_table(tmp_path) -> None:
    engine = open_engine(tmp_path / "server.db")
    registry = DeviceRegistry(engine)
    for device_id in ("tablet-a", "tablet-b"):
        _pair(registry, device_id)
    ingest = BatchIngest(engine)
    ours, theirs = _chain("tablet-a", 20), _chain("tablet-b", 20)
    _upload(ingest, ours)
    _upload(ingest, theirs)
    # Statistics of a 40-row table, as the first hour's housekeeping leaves them.
    statistics.refresh(engine)

    asked = {str(uuid_module.uuid4()) for _ in range(500)} | {ours[3].uuid, theirs[5].uuid}
    statements: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.set_trace_callback(statements.append)
        try:
            by_uuid, foreign = refs_at_uuids(conn, "tablet-a", asked)
            by_seq = refs_at_seqs(conn, "tablet-a", {20, 21})
            assert held_by_another(conn, "tablet-a", asked)
            assert not held_by_another(conn, "tablet-a", asked - {theirs[5].uuid})
            # The plain lane's rows go in through the stager, whose move looks
            # each row's UUID up for another device's record.
            # (In the transaction the lookups above began, rolled back after.)
            stager = RecordStager(conn, PLAIN_ROW_COLUMNS, "tablet-a", "batch-0001", utc_text(NOW), beside=True)
            placed = CorrectedTime(NOW, "offset", 0.0)
            stager.add([tuple(record_row(1, Outcome(0, RecordStatus.STORED, r.uuid, r.seq, record=r,
                                                    placed=placed), ())[c] for c in PLAIN_ROW_COLUMNS)
                        for r in _chain("tablet-a", 25)[20:]])
            stager.finish()
            lookups = [s for s in statements if "records" in s
                       and s.lstrip().upper().startswith(("SELECT", "INSERT OR ROLLBACK INTO MAIN.RECORDS"))]
            plans = {sql: [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)] for sql in lookups}
            conn.rollback()
        finally:
            raw.set_trace_callback(None)
        # What is stored is found: our record by its UUID, theirs as another device's.
        assert set(by_uuid) == {ours[3].uuid}
        assert by_uuid[ours[3].uuid].hash == ours[3].hash
        assert foreign == {theirs[5].uuid: "tablet-b"}
        assert by_seq[20].hash == ours[19].hash and 21 not in by_seq

    assert sum("uuid" in sql for sql in plans) >= 3 and any("seq" in sql for sql in plans), statements
    assert any(sql.upper().startswith("INSERT") for sql in plans), statements
    for sql, plan in plans.items():
        # The move's lookup names the table "held".
        assert any(step.startswith(("SEARCH records USING", "SEARCH held USING")) for step in plan), (sql, plan)
        assert not any(step.startswith(("SCAN records", "SCAN held")) for step in plan), (sql, plan)
    engine.dispose()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """The server's database: SQLite, or PostgreSQL under make test-postgres."""
    scratch = ScratchDatabase(TEST_DATABASE_URL) if TEST_DATABASE_URL else None
    engine = open_engine(scratch.url if scratch else tmp_path / "server.db")
    yield engine
    engine.dispose()
    if scratch:
        scratch.drop()


def _count(engine: Engine, device_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tables.records)
                            .where(tables.records.c.device_id == device_id)).scalar_one()


def test_a_refused_bulk_insert_is_sqlalchemys_error_and_keeps_nothing(engine: Engine) -> None:
    _pair(DeviceRegistry(engine), "tablet-a")
    records = _chain("tablet-a", 4)
    _upload(BatchIngest(engine), records[:3])
    placed = CorrectedTime(NOW, "offset", 0.0)
    rows = [record_row(1, Outcome(0, RecordStatus.STORED, r.uuid, r.seq, record=r, placed=placed), ())
            for r in (records[3], records[1])]  # a new record, then one already stored

    with pytest.raises(IntegrityError):
        write_transaction(engine, lambda conn: add_records(conn, rows))
    # The new record went with the refused one: the transaction kept nothing.
    assert _count(engine, "tablet-a") == 3
    # And the same insert without the duplicate goes through.
    write_transaction(engine, lambda conn: add_records(conn, rows[:1]))
    assert _count(engine, "tablet-a") == 4
