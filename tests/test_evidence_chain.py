"""The evidence archive verifies each device's stored chain again.

A real tablet rates on three days and uploads to a real server; then the
server's database is changed behind its back (a level, a deleted record,
swapped or re-hashed links, a stripped seal), as someone with access to the
database could, and the archive's ``devices.json`` must say ``flagged`` with
the place and the problem — where the ingest had seen nothing. The archive
of a day re-verifies that day's records and the links into and out of it (a
change elsewhere is left to the archives of other periods, and to the
whole-chain check); an untouched database says ``intact`` with the number
of records re-verified. Each change is undone after its test."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from server.accounts import Role
from server.evidence import NOT_RECHECKED, RECHECKED, archives_made, device_checks, make_archive
from server.reports import period_code
from server.roster import RosterStore
from server.scores import Period, PeriodKind
from server.store import tables
from server.store.records import hash_bytes, record_of_row
from sync.record import compute_hash
from tests.sync_support import Commune, ManualClock, Tablet, as_attacker, findings, stored
from tests.test_reports import HANOI, Steered
from tests.web.support import PASSWORDS, api_login, make_accounts

DAYS = (date(2026, 3, 2), date(2026, 3, 10), date(2026, 3, 20))
"""Three ratings a day (08:00, 09:00, 10:00); on the middle day the last one gets details."""
PERIOD = Period.of(PeriodKind.DAY, DAYS[1], HANOI)


def _tree(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["working_hours"]["enforce"] = False


@dataclass
class Chain:
    """The commune, its clocks, and the tablet's device and the sequence
    numbers of its records made on the middle day."""

    commune: Commune
    clock: ManualClock
    time: Steered
    device: str
    in_period: list[int]
    out_dir: Path


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Iterator[Chain]:
    tmp = tmp_path_factory.mktemp("evidence-chain")
    clock = ManualClock()
    with Commune(tmp, clock=clock) as commune:
        steered = Steered(clock)
        tablet = Tablet(tmp / "tablet", commune.url, clock=steered.device_clock(), tree_changes=_tree)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        officer = tablet.settings.active_officers[0].id
        for day in DAYS:
            for hour in (8, 9, 10):
                steered.to(datetime.combine(day, time(hour)))
                record = tablet.desk.rate(officer, 1 + hour % 3)
            if day == DAYS[1]:
                tablet.desk.add_details(record, ["fast"])
            assert tablet.uploader().run_once().pending == 0
        device = tablet.store.device_id
        in_period = sorted(seq for seq, row in stored(commune, device).items()
                           if datetime.fromisoformat(row["device_time"]).date() == DAYS[1])
        assert len(in_period) == 4 and findings(commune, device) == []
        yield Chain(commune, clock, steered, device, in_period, tmp)
        tablet.close()


def archived(chain: Chain, device: str | None = None, period: Period = PERIOD) -> dict:
    """Make the period's archive and return the device's entry of its ``devices.json``."""
    out = chain.out_dir / "archive.zip"
    make_archive(chain.commune.engine, period, out, actor="chu-tich", clock=chain.clock)
    with zipfile.ZipFile(out) as archive:
        checks = json.loads(archive.read("devices.json"))
    assert checks["verified_again"] == {"scope": "period", "rechecked": list(RECHECKED),
                                        "not_rechecked": list(NOT_RECHECKED)}
    [entry] = [d for d in checks["devices"] if d["device_id"] == (device or chain.device)]
    return entry


@contextmanager
def altered(chain: Chain, *seqs: int) -> Iterator[None]:
    """Keep the device's rows at ``seqs``, let the test change the server's
    database, then put the rows back as they were."""
    records, engine = tables.records, chain.commune.engine
    where = (records.c.device_id == chain.device, records.c.seq.in_(seqs))
    with engine.begin() as conn:
        kept = [dict(row) for row in conn.execute(select(records).where(*where)).mappings()]
    assert len(kept) == len(seqs)
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(delete(records).where(*where))
            conn.execute(insert(records), kept)


def _row(conn: Connection, device: str, seq: int) -> dict:
    return dict(conn.execute(select(tables.records).where(tables.records.c.device_id == device,
                                                          tables.records.c.seq == seq)).mappings().one())


def _set(conn: Connection, device: str, seq: int, **values) -> None:
    conn.execute(update(tables.records).where(tables.records.c.device_id == device, tables.records.c.seq == seq)
                 .values(**values))


def change_level(conn: Connection, device: str, seq: int) -> None:
    # What the review's script did: a rating's level raised, its hash left alone.
    _set(conn, device, seq, level="very_satisfied", score=3)


def delete_record(conn: Connection, device: str, seq: int) -> None:
    conn.execute(delete(tables.records).where(tables.records.c.device_id == device, tables.records.c.seq == seq))


def swap_links(conn: Connection, device: str, seq: int) -> None:
    first, second = _row(conn, device, seq), _row(conn, device, seq + 1)
    _set(conn, device, seq, prev_hash=second["prev_hash"])
    _set(conn, device, seq + 1, prev_hash=first["prev_hash"])


def relink_and_rehash(conn: Connection, device: str, seq: int) -> None:
    # Cleverer: the record now links elsewhere and its hash is made anew, so
    # it matches its own content; only the links tell.
    row = _row(conn, device, seq)
    row["prev_hash"] = hash_bytes("ab" * 32)
    _set(conn, device, seq, prev_hash=row["prev_hash"], hash=hash_bytes(compute_hash(record_of_row(row))))


def strip_seal(conn: Connection, device: str, seq: int) -> None:
    _set(conn, device, seq, seal=None)


def test_an_untouched_chain_is_intact_with_the_records_reverified(chain) -> None:
    entry = archived(chain)
    low, high = chain.in_period[0], chain.in_period[-1]
    # The day's 4 records, the one before them and the one after.
    assert (entry["records_verified"], entry["verified_from_seq"], entry["verified_to_seq"]) == (6, low - 1, high + 1)
    assert entry["result"] == "intact" and entry["problems_found"] == 0 and entry["first_problem"] is None
    assert entry["head_agrees"] and entry["sequence_complete"] and entry["stored_records"] == 10
    # Sealed from its first record (paired first); every seal verified on arrival.
    assert (entry["sealed_from_seq"], entry["seals_verified_to_seq"]) == (1, 10)
    # Without a period, the whole chain.
    [whole] = [d for d in device_checks(chain.commune.engine) if d["device_id"] == chain.device]
    assert (whole["records_verified"], whole["verified_from_seq"], whole["result"]) == (10, 1, "intact")


# (what is done, at which of the period's records (index), the first problem and where (offset), others expected)
TAMPERS: dict[str, tuple[Callable[[Connection, str, int], None], int, str, int, tuple[tuple[int, str], ...]]] = {
    "changed level": (change_level, 1, "bad_hash", 0, ()),
    "deleted record": (delete_record, 1, "gap", 0, ()),
    "swapped prev_hash": (swap_links, 1, "bad_hash", 0, ((0, "broken_link"), (1, "bad_hash"), (1, "broken_link"))),
    "relinked and rehashed": (relink_and_rehash, 1, "broken_link", 0, ((1, "broken_link"),)),
    "seal stripped": (strip_seal, 2, "unsealed_after_pairing", 0, ()),
    "the record before the period edited": (change_level, -1, "bad_hash", 0, ()),
    "the record after the period deleted": (delete_record, 4, "gap", 0, ()),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_a_change_in_the_stored_records_is_flagged_at_its_place(chain, name) -> None:
    tamper, index, problem, offset, others = TAMPERS[name]
    # Index -1: the record before the period's first; 4: the one after its last.
    seq = chain.in_period[0] - 1 if index == -1 else chain.in_period[0] + index
    with altered(chain, seq, seq + 1):
        with chain.commune.engine.begin() as conn:
            tamper(conn, chain.device, seq)
        entry = archived(chain)
        assert entry["result"] == "flagged", entry
        first = entry["first_problem"]
        assert (first["seq"], first["problem"], first["noted_on_arrival"]) == (seq + offset, problem, False)
        listed = [(p["seq"], p["problem"]) for p in entry["problems"]]
        assert listed[0] == (seq + offset, problem)
        assert all((seq + at, what) in listed for at, what in others), listed
        assert entry["problems_found"] == len(listed) == 1 + len(others)
    assert archived(chain)["result"] == "intact"  # put back: intact again


def test_a_change_outside_the_period_is_left_to_the_whole_chain_check(chain) -> None:
    seq = 2  # on the first day, not next to the period
    assert seq < chain.in_period[0] - 1
    with altered(chain, seq):
        with chain.commune.engine.begin() as conn:
            change_level(conn, chain.device, seq)
        entry = archived(chain)
        assert entry["result"] == "intact" and entry["verified_from_seq"] == chain.in_period[0] - 1
        [whole] = [d for d in device_checks(chain.commune.engine) if d["device_id"] == chain.device]
        assert whole["result"] == "flagged" and whole["first_problem"]["seq"] == seq
        assert whole["first_problem"]["problem"] == "bad_hash"


def test_a_problem_the_ingest_noted_is_reported_as_noted_on_arrival(chain) -> None:
    # A second tablet's record deleted on the tablet before upload: the server saw the gap as it came.
    # (On the last day, after the first tablet's ratings: the clocks only move forward.)
    tablet = Tablet(chain.out_dir / "tablet-2", chain.commune.url, clock=chain.time.device_clock(), tree_changes=_tree)
    try:
        tablet.pair(chain.commune)
        officer = tablet.settings.active_officers[0].id
        for minute in range(5):
            chain.time.to(datetime.combine(DAYS[2], time(14, minute)))
            tablet.desk.rate(officer, 2)
        as_attacker(tablet, "DELETE FROM journal WHERE seq = 3")
        assert tablet.uploader().run_once().pending == 0
        device = tablet.store.device_id
        assert findings(chain.commune, device) == [(3, "gap")]
        entry = archived(chain, device, Period.of(PeriodKind.DAY, DAYS[2], HANOI))
        assert entry["result"] == "flagged" and entry["records_verified"] == 4
        assert entry["first_problem"] == {"seq": 3, "problem": "gap", "detail": "records 3..3 are missing",
                                          "noted_on_arrival": True}
        assert archived(chain)["result"] == "intact"  # the first tablet's entry is its own
    finally:
        tablet.close()


def test_the_leader_and_the_command_line_are_told_of_a_flagged_chain(chain) -> None:
    seq = chain.in_period[1]
    code = period_code(PERIOD)
    archived(chain)
    # (Another test of this module may have left a second tablet with a finding of its own.)
    before = archives_made(chain.commune.engine, [code])[code]["flagged"]
    with altered(chain, seq):
        with chain.commune.engine.begin() as conn:
            change_level(conn, chain.device, seq)
        out = chain.out_dir / "cli-archive.zip"
        run = subprocess.run([sys.executable, "-m", "server", "archive", "--db", str(chain.commune.db_path),
                              "--period", code, "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert f"chain check FLAGGED: device {chain.device}" in run.stdout
        assert f"first at record {seq}: bad_hash" in run.stdout
        # The reports page (leaders) says so beside the archive it made.
        assert archives_made(chain.commune.engine, [code])[code]["flagged"] == before + 1
        make_accounts(chain.commune.engine)
        leader = api_login(chain.commune.url, Role.LEADER.value, PASSWORDS[Role.LEADER])
        page = leader.get(f"{chain.commune.url}/reports", params={"kind": "day", "day": PERIOD.first.isoformat()})
        assert page.status_code == 200 and "archive-flagged" in page.text
    archived(chain)  # put back: the next archive of the period is intact and says nothing
    assert archives_made(chain.commune.engine, [code])[code]["flagged"] == before
    page = leader.get(f"{chain.commune.url}/reports", params={"kind": "day", "day": PERIOD.first.isoformat()})
    assert page.status_code == 200 and "archive-made" in page.text
    assert ("archive-flagged" in page.text) == (before > 0)
