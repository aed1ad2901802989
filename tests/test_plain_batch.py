"""The plain lane (server.plain_batch) against the general rules
(server.ingest.plan_batch and what follows it): the same batches, sent to
two copies of one server database, one ingest taking the lane and the other
not, must leave every table alike and get the very same answers — for plain
batches, which the lane decides, and for batches it must hand over
(tampered, gapped, badly sealed, repeated, of other kinds), which the
general rules decide whole. Run on real SQLite files."""

from __future__ import annotations

import shutil
import uuid as uuid_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from server.batches import Batch, BatchIngest, _HandOver
from server.plain_batch import PLAIN_ROW_COLUMNS
from server.registry import DeviceRegistry
from server.seals import register_key
from server.store import open_engine, tables, write_transaction
from sync.record import GENESIS_HASH, KIND_DETAILS, KIND_RATING, Record, seal
from sync.scale import SCALES
from sync.seal import new_key, next_key, seal_record

DEVICE = "tablet-plain-01"
OTHER = "tablet-plain-02"
BOOT = "boot-1"
ZONE = timezone(timedelta(hours=7))
START = datetime(2026, 3, 2, 8, 0, tzinfo=ZONE)


@dataclass
class Journal:
    """A tablet's journal as the test writes it: the chain so far and its sealing key."""

    device_id: str = DEVICE
    key: bytes | None = None
    first_sealed: int = 1
    seq: int = 0
    prev: str = GENESIS_HASH

    def ratings(self, count: int, **changes: Any) -> list[Record]:
        """The next ``count`` ratings, chained and (from ``first_sealed``) sealed;
        ``changes`` apply to every one (a callable gets the sequence number)."""
        records = []
        for _ in range(count):
            self.seq += 1
            score = 1 + self.seq % 3
            fields: dict[str, Any] = dict(
                kind=KIND_RATING, uuid=str(uuid_module.uuid4()), device_id=self.device_id, seq=self.seq,
                prev_hash=self.prev,
                device_time=(START + timedelta(seconds=self.seq)).isoformat(timespec="milliseconds"),
                monotonic_ns=self.seq * 10**9, boot_id=BOOT, app_version="0.1.0", officer_id="lan",
                counter_id="quay-1", score=score, scale=3, level=SCALES[3].levels[score - 1].key, burst=False,
                comment_token=f"tok-{self.seq:04d}",
            )
            for name, value in changes.items():
                fields[name] = value(self.seq) if callable(value) else value
            records.append(self._chained(Record(**fields)))
        return records

    def _chained(self, record: Record) -> Record:
        record = seal(record)
        if self.key is not None and record.seq >= self.first_sealed:
            record = replace(record, seal=seal_record(self.key, record))
            self.key = next_key(self.key)
        self.prev = record.hash
        return record


@dataclass
class Twin:
    """One copy of the server database and the ingest on it."""

    engine: Engine
    ingest: BatchIngest


@pytest.fixture
def make_twins(tmp_path: Path) -> Iterator[Callable[..., tuple[Twin, Twin]]]:
    """Two copies of one database with ``DEVICE`` (and ``OTHER``) paired and,
    given a key, its sealing registered: the first ingest takes the plain
    lane, the second never does."""
    opened: list[Engine] = []

    def make(key: bytes | None = None, first_sealed: int = 1) -> tuple[Twin, Twin]:
        first = tmp_path / "lane.db"
        engine = open_engine(first)
        registry = DeviceRegistry(engine)
        for device_id in (DEVICE, OTHER):
            code = registry.request_code(device_id, "test", "0.1.0")
            registry.decide(code.user_code, approve=True)
            registry.poll(code.device_code)
        if key is not None:
            write_transaction(engine, lambda conn: register_key(conn, DEVICE, first_sealed, key))
        engine.dispose()
        shutil.copy(first, tmp_path / "rules.db")
        twins = []
        for name, lane in (("lane.db", True), ("rules.db", False)):
            engine = open_engine(tmp_path / name)
            opened.append(engine)
            twins.append(Twin(engine, BatchIngest(engine, plain_lane=lane)))
        return twins[0], twins[1]

    yield make
    for engine in opened:
        engine.dispose()


@pytest.fixture
def lane_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the plain lane did with each batch the lane's ingest received:
    ``plain`` or ``handed over`` (the other ingest never tries it)."""
    runs: list[str] = []
    plain = BatchIngest._plain

    def spy(self: BatchIngest, *args: Any, **kwargs: Any) -> Any:
        try:
            decided = plain(self, *args, **kwargs)
        except _HandOver:  # after rows went in: the transaction is run again without the lane
            runs.append("handed over")
            raise
        runs.append("plain" if decided is not None else "handed over")
        return decided

    monkeypatch.setattr(BatchIngest, "_plain", spy)
    return runs


def send(twins: tuple[Twin, Twin], records: list[Record | dict[str, Any]], *, late_by: timedelta = timedelta(0),
         key: str | None = None, device_id: str = DEVICE) -> dict[str, Any]:
    """One batch to both twins (the tablet's clock ``late_by`` behind the
    server's); the answers must be the same text. The lane's answer, as JSON."""
    items = [r.to_dict() if isinstance(r, Record) else r for r in records]
    last = max(items, key=lambda item: item["seq"])
    sent_at = datetime.fromisoformat(last["device_time"]) + timedelta(seconds=1)
    batch = Batch(device_id=device_id, idempotency_key=key or uuid_module.uuid4().hex, sent_at=sent_at,
                  sent_monotonic_ns=last["monotonic_ns"] + 10**9, boot_id=BOOT, app_version="0.1.0", pending=0,
                  records=items)
    received_at = (sent_at + late_by).astimezone(UTC)
    lane, rules = (twin.ingest.receive(batch, received_at) for twin in twins)
    assert lane.text == rules.text
    return lane.content.__dict__ | {"results": [r.__dict__ for r in lane.content.results]}


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a stable order."""
    with engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in tables.metadata.sorted_tables}


def assert_alike(twins: tuple[Twin, Twin]) -> None:
    lane, rules = (contents(twin.engine) for twin in twins)
    for name in lane:
        assert lane[name] == rules[name], name


def test_the_columns_a_plain_row_leaves_out_hold_null():
    """A plain row gives the columns a rating has values in; every other
    column of a stored record must then hold NULL, as the general rules'
    rows say (None): none of them may have a default."""
    assert len(set(PLAIN_ROW_COLUMNS)) == len(PLAIN_ROW_COLUMNS)
    left_out = [column for column in tables.records.c if column.name not in PLAIN_ROW_COLUMNS]
    assert "dossier_code" in {column.name for column in left_out}
    for column in left_out:
        assert column.default is None and column.server_default is None, column.name


def test_plain_batches_take_the_lane_and_store_what_the_rules_would(make_twins, lane_runs):
    key = new_key()
    twins = make_twins(key)
    journal = Journal(key=key)
    # Every level of the scale (the dissatisfied ones open cases), a burst, a simulated rating.
    first = send(twins, journal.ratings(6, burst=lambda seq: seq == 2, simulated=lambda seq: seq == 4))
    assert first["counts"]["stored"] == 6
    assert [r["flags"] for r in first["results"]][1:4] == [["burst"], [], ["simulated"]]
    # The next batch, with the dossier field of format 3 empty, from a tablet two hours behind.
    later = send(twins, journal.ratings(5, dossier_code=None, burst=lambda seq: seq == 9,
                                        simulated=lambda seq: seq == 9), late_by=timedelta(hours=2))
    assert [r["flags"] for r in later["results"]] == [["clock_off"]] * 2 + [["burst", "clock_off", "simulated"]] \
        + [["clock_off"]] * 2
    assert lane_runs == ["plain", "plain"]
    assert_alike(twins)
    with twins[0].engine.connect() as conn:
        assert conn.execute(select(tables.cases)).all(), "dissatisfied ratings opened cases"
        device = conn.execute(select(tables.devices).where(tables.devices.c.device_id == DEVICE)).mappings().one()
    assert device["head_seq"] == 11 and device["records_count"] == 11 and device["seal_seq"] == 12


@pytest.mark.parametrize("first_sealed", [None, 3], ids=["never-sealed", "sealed-from-3"])
def test_unsealed_records_take_the_lane_where_the_rules_accept_them(make_twins, lane_runs, first_sealed):
    key = new_key() if first_sealed else None
    twins = make_twins(key, first_sealed or 1)
    journal = Journal(key=key, first_sealed=first_sealed or 1)
    answer = send(twins, journal.ratings(6))
    assert answer["counts"]["stored"] == 6 and all(r["flags"] == [] for r in answer["results"])
    assert lane_runs == ["plain"]
    assert_alike(twins)


def _tampered(records: list[Record]) -> list[Record]:
    edited = {1: ("satisfied", 2), 2: ("very_satisfied", 3), 3: ("dissatisfied", 1)}[records[1].score]
    return [records[0], replace(records[1], level=edited[0], score=edited[1]), *records[2:]]


def _gapped(records: list[Record]) -> list[Record]:
    return [records[0], *records[2:]]


def _reordered(records: list[Record]) -> list[Record]:
    return [records[1], records[0], *records[2:]]


def _badly_sealed(records: list[Record]) -> list[Record]:
    return [records[0], replace(records[1], seal=seal_record(new_key(), records[1])), *records[2:]]


def _unsealed(records: list[Record]) -> list[Record]:
    return [records[0], replace(records[1], seal=""), *records[2:]]


def _as_dicts_with(records: list[Record], at: int, **changes: Any) -> list[Any]:
    items = [r.to_dict() for r in records]
    items[at] |= changes
    return items


HANDED_OVER: dict[str, Callable[[Journal, list[Record]], list[Any]]] = {
    "edited-not-rehashed": lambda journal, earlier: _tampered(journal.ratings(4)),
    "a-gap": lambda journal, earlier: _gapped(journal.ratings(4)),
    "out-of-order": lambda journal, earlier: _reordered(journal.ratings(4)),
    "bad-seal": lambda journal, earlier: _badly_sealed(journal.ratings(4)),
    "seal-stripped": lambda journal, earlier: _unsealed(journal.ratings(4)),
    "sent-again-under-a-new-key": lambda journal, earlier: [*earlier, *journal.ratings(2)],
    "dossier-code": lambda journal, earlier: journal.ratings(3, dossier_code=lambda seq: f"HS-{seq:04d}"),
    "clock-went-back": lambda journal, earlier: journal.ratings(3, monotonic_ns=lambda seq: 10**9),
    "another-devices-record": lambda journal, earlier: _as_dicts_with(journal.ratings(3), 1, device_id=OTHER),
    "malformed": lambda journal, earlier: _as_dicts_with(journal.ratings(3), 2, score="3"),
    "score-above-the-scale": lambda journal, earlier: _as_dicts_with(journal.ratings(3), 0, score=5),
    "a-details-record": lambda journal, earlier: [*journal.ratings(1), journal._chained(Record(
        kind=KIND_DETAILS, uuid=str(uuid_module.uuid4()), device_id=DEVICE, seq=journal.seq + 1,
        prev_hash=journal.prev, device_time=(START + timedelta(seconds=journal.seq + 1)).isoformat(
            timespec="milliseconds"),
        monotonic_ns=(journal.seq + 1) * 10**9, boot_id=BOOT, app_version="0.1.0",
        rating_uuid=earlier[0].uuid, reasons=("slow",), callback_consent=False))],
}


@pytest.mark.parametrize("case", sorted(HANDED_OVER))
def test_batches_that_are_not_plain_are_decided_by_the_general_rules_alike(make_twins, lane_runs, case):
    key = new_key()
    twins = make_twins(key)
    journal = Journal(key=key)
    earlier = journal.ratings(3)
    send(twins, earlier)
    assert lane_runs == ["plain"]
    answer = send(twins, HANDED_OVER[case](journal, earlier))
    assert lane_runs == ["plain", "handed over"]
    assert_alike(twins)
    assert answer["counts"]["stored"] + answer["counts"]["duplicate"] + answer["counts"]["rejected"] \
        + answer["counts"]["conflict"] == len(answer["results"])


def test_a_uuid_of_another_device_is_handed_over(make_twins, lane_runs):
    twins = make_twins()
    theirs = Journal(device_id=OTHER).ratings(1)
    send(twins, theirs, device_id=OTHER)
    answer = send(twins, Journal().ratings(1, uuid=theirs[0].uuid))
    assert answer["results"][0]["flags"] == ["uuid_reused"]
    assert lane_runs == ["plain", "handed over"]
    assert_alike(twins)


def test_a_replayed_plain_batch_is_answered_from_the_cache_alike(make_twins):
    key = new_key()
    twins = make_twins(key)
    records = Journal(key=key).ratings(4)
    first = send(twins, records, key="k" * 32)
    again = send(twins, records, key="k" * 32)
    assert again["replay"] and again["results"] == first["results"]
    assert_alike(twins)


def test_a_long_plain_batch_goes_in_chunk_by_chunk_alike(make_twins, lane_runs):
    key = new_key()
    twins = make_twins(key)
    journal = Journal(key=key)
    answer = send(twins, journal.ratings(620))  # three chunks, the last one short
    assert answer["counts"]["stored"] == 620 and lane_runs == ["plain"]
    assert_alike(twins)


def test_a_long_batch_spoilt_after_chunks_went_in_is_handed_over_whole(make_twins, lane_runs):
    """The lane stores chunks as it goes: a record it cannot vouch for after
    two of them takes them all back, and the general rules decide the batch."""
    key = new_key()
    twins = make_twins(key)
    journal = Journal(key=key)
    records = journal.ratings(620)
    records[560] = replace(records[560], comment_token="edited-after-sealing")
    answer = send(twins, records)
    assert lane_runs == ["handed over"]
    assert answer["results"][560]["flags"] == ["bad_hash", "bad_seal"]
    assert answer["counts"]["stored"] == 620
    assert_alike(twins)


@pytest.mark.parametrize("count", [3, 620], ids=["one-insert", "chunk-by-chunk"])
@pytest.mark.parametrize("whose", ["another-device", "its-own"])
def test_a_uuid_stored_before_is_found_as_the_rows_go_in_and_handed_over(make_twins, lane_runs, count, whose):
    """The lane does not look the batch's UUIDs up before storing: a UUID
    another device holds, or one the device itself stored at another place
    in its chain, is found as the rows go in (in the last chunk of a long
    batch, after the others went in), and the general rules decide the
    whole batch."""
    key = new_key()
    twins = make_twins(key)
    journal = Journal(key=key)
    if whose == "another-device":
        taken = Journal(device_id=OTHER).ratings(1)[0].uuid
        send(twins, Journal(device_id=OTHER).ratings(1, uuid=taken), device_id=OTHER)
    else:
        earlier = journal.ratings(2)
        send(twins, earlier)
        taken = earlier[0].uuid
    lane_runs.clear()
    last = journal.seq + count
    answer = send(twins, journal.ratings(count, uuid=lambda seq: taken if seq == last else str(uuid_module.uuid4())))
    assert lane_runs == ["handed over"]
    # Another device's UUID is stored with a flag (and a finding on both);
    # a record re-using the device's own is a conflict, kept aside.
    found = answer["results"][-1]
    assert (found["status"], found["flags"]) == (("stored", ["uuid_reused"]) if whose == "another-device"
                                                 else ("conflict", []))
    assert answer["counts"]["stored"] == count - (whose == "its-own")
    assert_alike(twins)


@pytest.mark.parametrize("count", [3, 620], ids=["one-insert", "chunk-by-chunk"])
def test_a_sequence_number_stored_before_is_refused_as_the_rows_go_in_and_handed_over(make_twins, lane_runs, count):
    """The lane does not look the batch's sequence numbers up either: the
    table's constraint refuses a record at a place in the chain the device
    already holds (here in the last chunk of a long batch), and the general
    rules decide the whole batch. No upload leaves a record beyond the
    device's head, so the head is put back by hand to make one."""
    twins = make_twins()
    journal = Journal()
    send(twins, journal.ratings(2))
    head = journal.seq, journal.prev
    taken = count + 1  # in the last chunk (or the last record) of the batch below
    skipped = journal.ratings(taken - journal.seq)  # a gap: the general rules store the record after it
    send(twins, skipped[-1:])
    for twin in twins:
        with twin.engine.begin() as conn:
            conn.execute(tables.devices.update().where(tables.devices.c.device_id == DEVICE).values(
                head_seq=head[0], head_hash=head[1], head_monotonic_ns=head[0] * 10**9))
    lane_runs.clear()
    fork = Journal(seq=head[0], prev=head[1])
    answer = send(twins, fork.ratings(count))
    assert lane_runs == ["handed over"]
    at_taken = answer["results"][taken - head[0] - 1]
    assert at_taken["seq"] == taken and at_taken["status"] != "stored"
    assert_alike(twins)
