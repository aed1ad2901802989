"""The idempotency cache: a batch's answer is kept compact (a few bytes a
record), rebuilt exactly for a replay, and forgotten after the retention
setting without weakening exactly-once: a retry after that is acknowledged
record by record as duplicates and stores nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from server.batches import BatchIngest
from server.settings import save_setting
from server.store import open_engine, tables
from tests.test_cases import Device

RECEIVED = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)


def test_answers_are_kept_compact_and_replayed_exactly(tmp_path):
    engine = open_engine(tmp_path / "commune.db")
    device, ingest = Device(engine), BatchIngest(engine)
    for i in range(500):
        device.rate(1 + i % 3)
    batch = device.batch(device.records)
    first = ingest.receive(batch, RECEIVED)
    again = ingest.receive(batch, RECEIVED + timedelta(minutes=5))
    assert again.replay and not first.replay
    full, replayed = json.loads(first.text), json.loads(again.text)
    assert replayed.pop("replay") is True and full.pop("replay") is False
    assert replayed == full  # every result, UUID, sequence number, flag and the first answer's time
    with engine.begin() as conn:
        kept = conn.execute(select(func.length(tables.batches.c.answer))).scalar_one()
    assert kept < 500 * 4, kept  # the JSON answer is ~200 bytes a record
    engine.dispose()


def test_forgotten_answers_do_not_weaken_exactly_once(tmp_path):
    engine = open_engine(tmp_path / "commune.db")
    device, ingest = Device(engine), BatchIngest(engine)
    save_setting(engine, "answer_retention_days", 30)
    old = device.batch([device.rate(3), device.rate(1)], key="old-key")
    ingest.receive(old, RECEIVED)
    recent = device.batch([device.rate(2)], key="recent-key")
    ingest.receive(recent, RECEIVED + timedelta(days=20))
    # 31 days on, the next batch prunes: the first answer is forgotten, the recent one kept.
    ingest.receive(device.batch([device.rate(3)]), RECEIVED + timedelta(days=31))
    ingest.wait_for_housekeeping(timeout=30)  # the round runs beside the upload, not in it
    with engine.begin() as conn:
        keys = set(conn.execute(select(tables.batches.c.idempotency_key)).scalars())
    assert "old-key" not in keys and "recent-key" in keys
    # The tablet retries the old batch: nothing is stored twice.
    retried = ingest.receive(old, RECEIVED + timedelta(days=32))
    assert not retried.replay
    assert [r.status for r in retried.content.results] == ["duplicate", "duplicate"]
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(tables.records)).scalar_one() == 4
    assert ingest.receive(recent, RECEIVED + timedelta(days=32)).replay
    engine.dispose()
