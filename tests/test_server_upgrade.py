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

from sqlalchemy import inspect, select

from server.batches import Batch, BatchIngest
from server.store import open_engine, tables
from server.store.cases import callback_phone
from server.store.comments import rating_for_comment
from server.store.records import record_of_row
from sync.record import KIND_RATING, Record, seal, verify_chain

DATA = Path(__file__).parent / "data"


def _old_database(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "commune.db"
    shutil.copyfile(DATA / "server-0.1.db", path)
    return path, json.loads((DATA / "server-0.1.json").read_text(encoding="utf-8"))


def _batch(device_id: str, key: str, records: list[dict]) -> Batch:
    return Batch(device_id=device_id, idempotency_key=key, sent_at=datetime(2026, 3, 7, 2, 0, tzinfo=UTC),
                 sent_monotonic_ns=10**12, boot_id="boot-1", app_version="0.1.0", pending=0, records=records)


def test_a_database_of_version_0_1_is_upgraded_and_loses_nothing(tmp_path):
    path, sent = _old_database(tmp_path)
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
    assert "ix_records_ratings_by_time_sqlite" not in {i["name"] for i in inspect(engine).get_indexes("records")}

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
