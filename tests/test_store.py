"""The tablet's SQLite store: durable settings, the append-only journal, the
chain over what is on disk, and migrations of older files."""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from kiosk.store import Store, StoreError
from kiosk.store.journal import to_row
from kiosk.store.migrations import STEPS, migrations, up_to_date
from sync.record import GENESIS_HASH, KIND_DETAILS, KIND_RATING, Record, RecordError, seal

ICT = timezone(timedelta(hours=7))


def _builder(store: Store, score: int = 3, officer: str = "nguyen-thi-lan"):
    def build(seq: int, prev_hash: str) -> Record:
        return Record(
            kind=KIND_RATING,
            uuid=str(uuid.uuid4()),
            device_id=store.device_id,
            seq=seq,
            prev_hash=prev_hash,
            device_time="2026-01-05T08:00:00.000+07:00",
            monotonic_ns=seq,
            boot_id="boot-1",
            app_version="0.1.0",
            officer_id=officer,
            counter_id="quay-1",
            score=score,
            scale=3,
            level={1: "dissatisfied", 2: "satisfied", 3: "very_satisfied"}[score],
            burst=False,
            comment_token="tok",
        )

    return build


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "kiosk.db")
    yield s
    s.close()


def _fill(store: Store, n: int) -> list[Record]:
    return [store.append(_builder(store, score=1 + i % 3)) for i in range(n)]


def _attacker(path: Path) -> sqlite3.Connection:
    """A second connection, as someone with the file would open it, who
    first drops the triggers that keep the journal append-only."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("DROP TRIGGER journal_no_delete")
    return conn


def _problems(store: Store) -> list[tuple[int, str]]:
    return [(f.seq, f.problem) for f in store.verify()]


def test_append_numbers_and_chains(store: Store) -> None:
    records = _fill(store, 5)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:]))
    assert store.records() == records
    assert store.records(after_seq=3) == records[3:]
    assert store.records(limit=2) == records[:2]
    assert store.record(records[2].uuid) == records[2]
    assert store.record(str(uuid.uuid4())) is None
    assert store.count() == 5 and store.count(KIND_RATING) == 5 and store.count(KIND_DETAILS) == 0
    assert _problems(store) == []


def test_records_survive_reopening(tmp_path: Path) -> None:
    first = Store(tmp_path / "kiosk.db")
    records = _fill(first, 3)
    device = first.device_id
    first.close()
    again = Store(tmp_path / "kiosk.db")
    assert again.device_id == device
    assert again.records() == records
    assert again.last_rating() == records[-1]


def test_a_failed_build_writes_nothing(store: Store) -> None:
    _fill(store, 2)

    def broken(seq: int, prev_hash: str) -> Record:
        raise RuntimeError("screen went away")

    with pytest.raises(RuntimeError):
        store.append(broken)
    with pytest.raises(RecordError, match="score"):
        store.append(lambda seq, prev: Record(**{**_builder(store)(seq, prev).__dict__, "score": 9}))
    assert store.count() == 2
    assert store.append(_builder(store)).seq == 3


def test_wal_and_full_sync_are_in_force(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # And on the file itself: another connection sees WAL too.
    other = sqlite3.connect(str(store.path))
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_triggers_refuse_update_and_delete(store: Store) -> None:
    _fill(store, 3)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE journal SET score = 1 WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM journal WHERE seq = 2")
    assert store.records()[1].score == 2
    assert store.count() == 3


def test_edited_row_is_a_bad_hash(store: Store) -> None:
    _fill(store, 6)
    attacker = _attacker(store.path)
    attacker.execute("UPDATE journal SET score = 3, level = 'very_satisfied' WHERE seq = 4")
    attacker.close()
    assert _problems(store) == [(4, "bad_hash")]


def test_deleted_row_is_a_gap(store: Store) -> None:
    _fill(store, 6)
    attacker = _attacker(store.path)
    attacker.execute("DELETE FROM journal WHERE seq = 3")
    attacker.close()
    assert _problems(store) == [(3, "gap")]


def test_forged_row_is_caught(store: Store) -> None:
    records = _fill(store, 6)
    attacker = _attacker(store.path)
    # Replace record 4 with a forgery sealed properly, by someone who knows
    # the format: its own hash is right, so the next link breaks.
    forged = seal(
        Record(**{**records[3].__dict__, "hash": "", "score": 3, "level": "very_satisfied",
                  "uuid": str(uuid.uuid4())})
    )
    attacker.execute("DELETE FROM journal WHERE seq = 4")
    row = to_row(forged)
    attacker.execute(
        f"INSERT INTO journal ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
    )
    # And append a record with an invented hash at the end.
    invented = {**to_row(seal(_builder(store)(7, records[5].hash))), "hash": "f" * 64}
    attacker.execute(
        f"INSERT INTO journal ({', '.join(invented)}) VALUES ({', '.join('?' for _ in invented)})",
        list(invented.values()),
    )
    attacker.close()
    assert _problems(store) == [(5, "broken_link"), (7, "bad_hash")]


def test_forged_row_with_a_wrong_link(store: Store) -> None:
    records = _fill(store, 3)
    attacker = _attacker(store.path)
    stray = to_row(seal(_builder(store)(4, "a" * 64)))
    attacker.execute(
        f"INSERT INTO journal ({', '.join(stray)}) VALUES ({', '.join('?' for _ in stray)})", list(stray.values())
    )
    attacker.close()
    assert records[-1].hash != "a" * 64
    assert _problems(store) == [(4, "broken_link")]


def test_integrity_check(store: Store) -> None:
    _fill(store, 3)
    assert store.integrity_ok()


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="kiosk.db"):
        Store(path)


def test_migrations_are_recorded_and_not_repeated(tmp_path: Path) -> None:
    first = Store(tmp_path / "kiosk.db")
    applied = [m.name for m in migrations().applied(first.db)]
    assert applied[:3] == ["m001_journal", "m002_device", "m003_shifts_audit_pins"]
    assert migrations().pending(first.db) == []
    device = first.device_id
    first.close()

    again = Store(tmp_path / "kiosk.db")
    assert [m.name for m in migrations().applied(again.db)] == applied
    # m002 makes the device id: applying it twice would make a second one.
    assert again.db.execute("SELECT count(*) FROM device").fetchone()[0] == 1
    assert again.device_id == device
    again.close()


def test_the_start_reads_the_applied_steps_as_sqlite_utils_does(tmp_path: Path) -> None:
    """A start checks the applied steps with plain SQLite and imports
    sqlite-utils only to apply some: both must see the same file alike."""
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    assert not up_to_date(conn)  # not even the table of applied steps yet
    for step in STEPS:
        migrations().apply(Database(conn), stop_before=step.__name__)
        assert migrations().pending(Database(conn))
        assert not up_to_date(conn), step.__name__
    migrations().apply(Database(conn))
    assert migrations().pending(Database(conn)) == [] and up_to_date(conn)
    conn.close()
    store = Store(path)
    assert store.db.execute("SELECT count(*) FROM device").fetchone()[0] == 1
    store.close()


def test_a_replace_cannot_delete_a_journal_row(tmp_path: Path) -> None:
    """The connection fires delete triggers on REPLACE (as sqlite-utils set
    it up before): a record's UUID reused with OR REPLACE is refused, not
    swapped in for the old row. Reopened, so that no migration runs."""
    store = Store(tmp_path / "kiosk.db")
    first = store.append(_builder(store))
    store.close()
    store = Store(tmp_path / "kiosk.db")
    row = to_row(first)
    row["seq"] = 99
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.database.conn.execute(
            f"INSERT OR REPLACE INTO journal ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
    assert store.records() == [first]
    store.close()


def _write_chain(conn: sqlite3.Connection, device_id: str, device_time: str, app_version: str) -> list[Record]:
    """Three chained ratings written straight into an older file's journal."""
    prev, written = GENESIS_HASH, []
    for seq in (1, 2, 3):
        record = seal(
            Record(
                kind=KIND_RATING, uuid=str(uuid.uuid4()), device_id=device_id, seq=seq,
                prev_hash=prev, device_time=device_time, monotonic_ns=seq,
                boot_id="b", app_version=app_version, officer_id="tran-van-hung", counter_id="quay-1",
                score=2, scale=3, level="satisfied", burst=False, comment_token="t", v=1,  # made before seals
            )
        )
        row = to_row(record)
        conn.execute(
            f"INSERT INTO journal ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
        )
        written.append(record)
        prev = record.hash
    return written


def test_old_database_migrates_forward_keeping_records(tmp_path: Path) -> None:
    """A file from a version that had only the journal: its records stay,
    byte for byte, and the later tables are added."""
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    old = Database(conn)
    migrations().apply(old, stop_before="m002_device")
    assert "device" not in old.table_names()
    written = _write_chain(conn, "old-device", "2025-12-01T09:00:00.000+07:00", "0.0.9")
    conn.close()

    store = Store(path)
    assert migrations().pending(store.db) == []
    assert {"device", "shifts", "audit", "pin_state"} <= set(store.db.table_names())
    assert store.records() == written
    assert _problems(store) == []
    # New records continue the old chain.
    assert store.append(_builder(store)).prev_hash == written[-1].hash
    assert _problems(store) == []
    # The triggers came with the first migration and still hold.
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM journal")


def test_shifts(store: Store) -> None:
    at = datetime(2026, 1, 5, 7, 30, tzinfo=ICT)
    assert store.current_shift("quay-1") is None
    store.start_shift("nguyen-thi-lan", "quay-1", at)
    assert store.current_shift("quay-1").officer_id == "nguyen-thi-lan"
    # Signing someone else in ends the first shift.
    store.start_shift("tran-van-hung", "quay-1", at + timedelta(hours=4))
    assert store.current_shift("quay-1").officer_id == "tran-van-hung"
    first, second = store.shifts()
    assert first.ended_at == "2026-01-05T11:30:00.000+07:00" and second.ended_at is None
    # Another counter is separate.
    assert store.current_shift("quay-2") is None
    store.end_shift("quay-1", at + timedelta(hours=9))
    assert store.current_shift("quay-1") is None


def test_audit_and_pin_state(store: Store) -> None:
    store.audit("export", actor="technician", detail={"rows": 12, "note": "xuất dữ liệu"})
    (entry,) = store.audit_log()
    assert entry["action"] == "export" and "xuất dữ liệu" in entry["detail"]
    assert store.pin_state("technician") == {}
    store.save_pin_state("technician", {"failures": 2})
    store.save_pin_state("technician", {"failures": 3})
    assert store.pin_state("technician") == {"failures": 3}


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_the_database_is_readable_by_its_owner_only(tmp_path):
    """Call-back phone numbers are in it; SQLite gives -wal and -shm the same bits."""
    import stat

    store = Store(tmp_path / "data" / "hailong.db")
    try:
        for name in ("hailong.db", "hailong.db-wal", "hailong.db-shm"):
            path = tmp_path / "data" / name
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    finally:
        store.close()


def test_migration_steps_keep_their_names_and_order() -> None:
    """A file on a tablet remembers its steps by name: renaming or reordering
    one would run it a second time on that file."""
    expected = ["m001_journal", "m002_device", "m003_shifts_audit_pins", "m004_outbox", "m005_sealing",
                "m006_dossier_code", "m007_callback_box", "m008_surveys"]
    assert [step.__name__ for step in STEPS] == expected
    assert [m.name for m in migrations().pending(Database(memory=True))] == expected
    assert migrations().name == "hailong-kiosk"


# The schema of a file as the migrations have made it since the outbox came
# (sqlite-utils' own DDL text), written out here so that a file from a tablet
# in the field is rebuilt independently of today's migration code.
_FIELD_SCHEMA = [
    'CREATE TABLE "_sqlite_migrations" (\n   "id" INTEGER PRIMARY KEY,\n   "migration_set" TEXT,\n'
    '   "name" TEXT,\n   "applied_at" TEXT\n)',
    'CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"\n'
    '    ON "_sqlite_migrations" ("migration_set", "name")',
    'CREATE TABLE "journal" (\n   "seq" INTEGER PRIMARY KEY,\n   "uuid" TEXT NOT NULL,\n   "kind" TEXT NOT NULL,\n'
    '   "v" INTEGER,\n   "device_id" TEXT,\n   "prev_hash" TEXT NOT NULL,\n   "hash" TEXT NOT NULL,\n'
    '   "device_time" TEXT NOT NULL,\n   "monotonic_ns" INTEGER,\n   "boot_id" TEXT,\n   "app_version" TEXT,\n'
    '   "simulated" INTEGER,\n   "officer_id" TEXT,\n   "counter_id" TEXT,\n   "score" INTEGER,\n'
    '   "scale" INTEGER,\n   "level" TEXT,\n   "burst" INTEGER,\n   "comment_token" TEXT,\n'
    '   "rating_uuid" TEXT,\n   "reasons" TEXT,\n   "callback_phone" TEXT,\n   "callback_consent" INTEGER\n)',
    'CREATE UNIQUE INDEX "idx_journal_uuid"\n    ON "journal" ("uuid")',
    'CREATE INDEX "idx_journal_kind_officer_id_device_time"\n    ON "journal" ("kind", "officer_id", "device_time")',
    'CREATE INDEX "idx_journal_rating_uuid"\n    ON "journal" ("rating_uuid")',
    "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    'CREATE TABLE "device" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
    'CREATE TABLE "shifts" (\n   "id" INTEGER PRIMARY KEY,\n   "officer_id" TEXT NOT NULL,\n'
    '   "counter_id" TEXT NOT NULL,\n   "started_at" TEXT NOT NULL,\n   "ended_at" TEXT\n)',
    'CREATE TABLE "audit" (\n   "id" INTEGER PRIMARY KEY,\n   "at" TEXT NOT NULL,\n   "actor" TEXT,\n'
    '   "action" TEXT NOT NULL,\n   "detail" TEXT\n)',
    'CREATE TABLE "pin_state" (\n   "subject" TEXT PRIMARY KEY,\n   "state" TEXT\n)',
    'CREATE TABLE "outbox_acks" (\n   "seq" INTEGER PRIMARY KEY,\n   "uuid" TEXT NOT NULL,\n'
    '   "status" TEXT NOT NULL,\n   "detail" TEXT,\n   "acked_at" TEXT NOT NULL\n)',
    'CREATE TABLE "outbox_state" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT\n)',
]


def _schema(conn: sqlite3.Connection) -> set[tuple[str, str, str | None]]:
    return set(conn.execute("SELECT type, name, sql FROM sqlite_master"))


def test_a_file_from_the_field_opens_and_works(tmp_path: Path) -> None:
    """A file made before the store became a package, with every migration
    applied and some of everything in it, opens as it is and goes on."""
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for ddl in _FIELD_SCHEMA:
        conn.execute(ddl)
    conn.executemany(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
        [("hailong-kiosk", name, "2026-01-05 01:00:00.000000+00:00")
         for name in ("m001_journal", "m002_device", "m003_shifts_audit_pins", "m004_outbox")],
    )
    conn.execute("INSERT INTO device (key, value) VALUES ('device_id', 'field-tablet')")
    written = _write_chain(conn, "field-tablet", "2026-01-05T09:00:00.000+07:00", "0.1.0")
    conn.execute(
        "INSERT INTO shifts (officer_id, counter_id, started_at) "
        "VALUES ('tran-van-hung', 'quay-1', '2026-01-05T07:30:00.000+07:00')"
    )
    conn.execute(
        "INSERT INTO audit (at, actor, action, detail) "
        "VALUES ('2026-01-05T07:30:00.000+07:00', 'tran-van-hung', 'shift_start', '{}')"
    )
    conn.execute("INSERT INTO pin_state (subject, state) VALUES ('technician', '{\"failures\": 2}')")
    conn.execute(
        "INSERT INTO outbox_acks (seq, uuid, status, detail, acked_at) "
        "VALUES (1, ?, 'stored', '', '2026-01-05T09:05:00.000+07:00')",
        [written[0].uuid],
    )
    conn.execute("INSERT INTO outbox_state (key, value) VALUES ('acked_through', '1')")
    conn.execute("INSERT INTO outbox_state (key, value) VALUES ('last_success', '2026-01-05T09:05:00+07:00')")
    conn.close()

    store = Store(path)
    try:
        assert migrations().pending(store.db) == []
        # Nothing ran again but the step that came after the file was made (seals).
        assert [m.name for m in migrations().applied(store.db)][4:] == ["m005_sealing", "m006_dossier_code",
                                                                        "m007_callback_box", "m008_surveys"]
        assert store.device_id == "field-tablet"
        assert store.records() == written and _problems(store) == []
        assert store.current_shift("quay-1").officer_id == "tran-van-hung"
        assert [entry["action"] for entry in store.audit_log()] == ["shift_start"]
        assert store.pin_state("technician") == {"failures": 2}
        assert [r.seq for r in store.pending_records()] == [2, 3] and store.pending_count() == 2
        assert [a["seq"] for a in store.acks()] == [1]
        assert store.outbox_state("last_success") == "2026-01-05T09:05:00+07:00"
        assert store.append(_builder(store)).prev_hash == written[-1].hash
        assert store.pending_count() == 3 and _problems(store) == []
        # A new file gets the very same schema as the one from the field.
        fresh = Store(tmp_path / "fresh.db")
        try:
            assert _schema(fresh.db.conn) == _schema(store.db.conn)
        finally:
            fresh.close()
    finally:
        store.close()


def test_all_sql_of_the_tablet_lives_in_the_store() -> None:
    """No module of the kiosk outside ``kiosk/store`` speaks SQL to the
    tablet's database: its reports ask the store for rows."""
    kiosk = Path(__file__).resolve().parents[1] / "kiosk"
    sql = re.compile(r"\bimport sqlite3\b|\bSELECT |INSERT INTO |DELETE FROM |\bPRAGMA |\.execute\(")
    offenders = [
        f"{path.relative_to(kiosk)}:{n}"
        for path in sorted(kiosk.rglob("*.py"))
        if (kiosk / "store") not in path.parents
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if sql.search(line)
    ]
    assert offenders == []
