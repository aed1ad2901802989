"""A commune server's database made by version 0.1 (each record's wire text
kept beside its columns, whole JSON answers in the idempotency cache) is
upgraded in place when a newer server opens it, and nothing recorded is
lost: every record rebuilds to the very wire form the tablet sent, the chain
verifies, the cached answers still answer replays, the call-back number and
the comment token are still found, and the tablet's next batch continues the
chain.

``tests/data/server-0.1.db`` was written by the 0.1 server's own code
(pairing and batch ingest); ``server-0.1.json`` holds the batches it
received and the answers it gave."""

from __future__ import annotations

import json
import shutil
import uuid as uuid_module
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Index, LargeBinary, MetaData, create_engine, insert, inspect, select, text
from sqlalchemy.pool import NullPool
from sqlalchemy.types import BLOB

from server.batches import Batch, BatchIngest
from server.store import open_engine, tables
from server.store.cases import callback_phone
from server.store.comments import rating_for_comment
from server.store.records import record_of_row
from sync.record import KIND_RATING, Record, seal, verify_chain
from tests.sync_support import TEST_DATABASE_URL, ScratchDatabase

DATA = Path(__file__).parent / "data"
OLD = DATA / "server-0.1.db"


def _sent() -> dict:
    return json.loads((DATA / "server-0.1.json").read_text(encoding="utf-8"))


def _on_postgresql(url: str) -> None:
    """The 0.1 database rebuilt on PostgreSQL at ``url``, as 0.1 made it there:
    its tables, unique keys and partial indexes, the rows, and each id's
    sequence past the ids in use. (Made from the SQLite file, which 0.1's own
    code wrote; 0.1's PostgreSQL indexes carried ``_postgresql`` names.)"""
    source = create_engine(f"sqlite:///{OLD}", poolclass=NullPool)
    old = MetaData()
    old.reflect(source)
    for table in old.tables.values():
        for column in table.columns:
            if isinstance(column.type, BLOB):
                column.type = LargeBinary()
        for index in list(table.indexes):
            where = index.dialect_options["sqlite"]["where"]
            table.indexes.discard(index)
            if where is not None:
                Index(index.name.replace("_sqlite", "_postgresql"), *index.columns, postgresql_where=where,
                      _table=table)
            else:
                Index(index.name, *index.columns, unique=index.unique, _table=table)
    target = create_engine(url, poolclass=NullPool)
    old.create_all(target)
    with source.connect() as reading, target.begin() as writing:
        for table in old.sorted_tables:
            rows = [dict(row) for row in reading.execute(select(table)).mappings()]
            if rows:
                writing.execute(insert(table), rows)
            if "id" in table.c and table.c.id.primary_key:
                writing.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    source.dispose()
    target.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path):
    """Where the 0.1 database lies: a SQLite file, or (with
    ``HAILONG_TEST_DATABASE_URL``, as ``make test-postgres`` runs) a
    PostgreSQL database; what ``open_engine`` takes."""
    if request.param == "sqlite":
        path = tmp_path / "commune.db"
        shutil.copyfile(OLD, path)
        yield path
        return
    if TEST_DATABASE_URL is None:
        pytest.skip("a PostgreSQL server: HAILONG_TEST_DATABASE_URL (make test-postgres)")
    scratch = ScratchDatabase(TEST_DATABASE_URL)
    try:
        _on_postgresql(scratch.url)
        yield scratch.url
    finally:
        scratch.drop()


def _batch(device_id: str, key: str, records: list[dict]) -> Batch:
    return Batch(device_id=device_id, idempotency_key=key, sent_at=datetime(2026, 3, 7, 2, 0, tzinfo=UTC),
                 sent_monotonic_ns=10**12, boot_id="boot-1", app_version="0.1.0", pending=0, records=records)


def test_a_database_of_version_0_1_is_upgraded_and_loses_nothing(old_database):
    path, sent = old_database, _sent()
    engine = open_engine(path)
    columns = {c["name"] for c in inspect(engine).get_columns("records")}
    assert "body" not in columns and {"comment_token", "callback_phone", "app_version"} <= columns
    assert "response" not in {c["name"] for c in inspect(engine).get_columns("batches")}

    with engine.begin() as conn:
        rows = conn.execute(select(tables.records).order_by(tables.records.c.seq)).mappings().all()
    rebuilt = [record_of_row(row).to_dict() for row in rows]
    originals = [item for batch in sent["batches"] for item in batch["records"]]
    assert rebuilt == originals  # the very wire form, field for field
    assert verify_chain([Record.from_dict(item) for item in rebuilt]) == []
    assert [row["id"] for row in rows] == list(range(1, len(originals) + 1))
    # The batch key and time of arrival are kept once per batch, as receipts.
    with engine.begin() as conn:
        receipts = conn.execute(select(tables.receipts.c.batch_key, tables.receipts.c.received_at)
                                .order_by(tables.receipts.c.id)).all()
    assert [tuple(r) for r in receipts] == [(b["idempotency_key"], b["answer"]["received_at"]) for b in sent["batches"]]
    # The older indexes are gone; the dashboard's are there.
    indexes = {i["name"] for i in inspect(engine).get_indexes("records")}
    assert not indexes & set(tables.RETIRED_INDEXES)
    assert {index.name for index in tables.RATING_INDEXES[engine.dialect.name]} <= indexes

    # The cached answers still answer replays, unchanged.
    ingest = BatchIngest(engine)
    for kept in sent["batches"]:
        again = ingest.receive(_batch(sent["device_id"], kept["idempotency_key"], kept["records"]),
                               datetime(2026, 3, 7, 2, 0, tzinfo=UTC))
        assert again.replay
        assert json.loads(again.text)["results"] == kept["answer"]["results"]
        assert again.content.counts == kept["answer"]["counts"]

    # What the follow-up and the comment form read from the records is still there.
    first_rating = Record.from_dict(originals[0])
    with engine.begin() as conn:
        assert callback_phone(conn, first_rating.uuid) == "0912345678"
        assert rating_for_comment(conn, first_rating.uuid)["comment_token"] == first_rating.comment_token

    # The tablet's next record continues the chain: stored, no finding.
    last = Record.from_dict(originals[-1])
    following = seal(Record(kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id=sent["device_id"],
                            seq=last.seq + 1, prev_hash=last.hash, device_time="2026-03-07T08:00:00.000+07:00",
                            monotonic_ns=(last.seq + 1) * 10**9, boot_id="boot-1", app_version="0.1.0",
                            officer_id="tran-thi-binh", counter_id="quay-1", score=3, scale=3,
                            level="very_satisfied", burst=False, comment_token="t" * 16))
    answer = ingest.receive(_batch(sent["device_id"], "new-key", [following.to_dict()]),
                            datetime(2026, 3, 7, 2, 0, tzinfo=UTC))
    assert [r.status for r in answer.content.results] == ["stored"]
    assert not {"bad_hash", "broken_link", "after_gap", "late"} & set(answer.content.results[0].flags)
    with engine.begin() as conn:
        assert conn.execute(select(tables.findings)).all() == []
    engine.dispose()

    # Opened again, the database is already in the new layout: nothing is rebuilt twice.
    again = open_engine(path)
    with again.begin() as conn:
        assert len(conn.execute(select(tables.records.c.id)).all()) == len(originals) + 1
    again.dispose()
