"""The citizen's call-back number end to end (Decree 13/2023 on personal data):
sealed at the tap to the server's key, never in clear on the tablet, opened
by the server for a leader, erased by destroying its key (on request or after
the retention), with both chains still intact.

A real server on loopback and a real tablet store paired through the real
pairing flow; the files are searched byte by byte for the typed digits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.export import export_ratings
from kiosk.link.credentials import load_credentials
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink
from server.accounts import AccountBook, Role
from server.callback_numbers import erase_expired, erase_for_rating, months_before, number_for_rating, public_key_text
from server.cases import CaseBook, CaseOutcome, CaseView
from server.roster import RosterStore
from server.settings import save_setting
from server.store import tables
from sync.protocol import API_PREFIX
from sync.record import KIND_DETAILS, Record, RecordError, seal, verify_chain
from tests.sync_support import Commune, Tablet, roster_file, server_records

PHONE = "0912345678"
OTHER = "0387654321"
PASSWORD = "mật-khẩu-đủ-dài-123"


def _files_of(database: Path) -> list[Path]:
    """A SQLite file and its companions, as they are on disk."""
    return [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]


def _holds(paths: list[Path], needle: bytes) -> list[str]:
    return [p.name for p in paths if needle in p.read_bytes()]


def _rate_with_callback(tablet: Tablet, phone: str, score: int = 1) -> tuple[Record, Record]:
    officer = tablet.settings.active_officers[0].id
    rating = tablet.desk.rate(officer, score)
    details = tablet.desk.add_details(rating, ["waited_long"], phone, consent=True)
    assert details is not None
    return rating, details


def _upload(tablet: Tablet) -> None:
    status = tablet.uploader().run_once()
    assert status.pending == 0, status


@pytest.fixture
def people(commune):
    """A leader, a second leader and the rated officer's account."""
    book = AccountBook(commune.engine)
    return {
        "leader": book.create("lanhdao", PASSWORD, Role.LEADER),
        "officer": book.create("canbo", PASSWORD, Role.OFFICER, officer_id="nguyen-thi-lan"),
        "observer": book.create("mttq", PASSWORD, Role.OBSERVER),
    }


def test_pairing_and_the_roster_hand_the_tablet_the_servers_public_key(commune, tablet) -> None:
    key = public_key_text(commune.engine)
    assert tablet.store.callback_keys.server_key() == key and tablet.desk.takes_callbacks()
    # A tablet paired before the server had a key learns it with the roster.
    RosterStore(commune.engine).import_file(roster_file(tablet))
    credentials = load_credentials(tablet.store.device_secret_path)
    roster = RosterSync(roster_directory(tablet.db_path), ServerLink(commune.url, credentials)).fetch()
    assert roster["callback_key"] == key and roster["callback_retention_months"] == 12
    # The private half never leaves the server: nowhere in what it serves.
    with commune.engine.begin() as conn:
        private = conn.execute(select(tables.server_keys.c.private_key)).scalar_one()
    assert len(private) == 32 and private.hex() not in json.dumps(roster)
    assert public_key_text(commune.engine) == key  # made once


def test_no_number_in_clear_on_the_tablet_and_the_server_opens_it_for_a_leader(commune, tablet, people) -> None:
    rating, details = _rate_with_callback(tablet, PHONE)
    assert details.v == 3 and details.callback_phone is None and details.callback_box
    assert "callback_phone" not in details.to_dict()
    assert tablet.store.callback_keys.count() == 1  # waiting to travel beside the record

    _upload(tablet)
    # The server holds the only key now: the tablet's copy is gone.
    assert tablet.store.callback_keys.count() == 0
    book = CaseBook(commune.engine, AccountBook(commune.engine))
    (case,) = book.cases(CaseView.OPEN)[0]
    assert case.rating_uuid == rating.uuid and case.callback
    assert book.callback_phone(case, people["leader"]) == PHONE
    assert book.callback_phone(case, people["officer"]) is None
    assert book.callback_phone(case, people["observer"]) is None

    # Search every byte the tablet and the server keep for the typed digits.
    tablet.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    digits = PHONE.encode("ascii")
    assert _holds(_files_of(tablet.db_path), digits) == []
    assert _holds(_files_of(Path(commune.db_path)), digits) == []
    usb = tablet.directory / "usb"
    usb.mkdir()
    exported = export_ratings(tablet.db_path, usb)
    for path in exported.paths:
        assert digits not in path.read_bytes() and path.stat().st_mode & 0o777 == 0o600
    assert "có" in exported.paths[0].read_text(encoding="utf-8-sig")  # call-back requested: yes

    # Both ends verify the chain the number travels in.
    assert tablet.store.verify() == []
    assert verify_chain(server_records(commune, tablet.store.device_id)) == []


def test_an_erased_number_is_gone_for_good_and_both_chains_still_verify(commune, tablet, people) -> None:
    rating, details = _rate_with_callback(tablet, PHONE)
    kept_rating, _ = _rate_with_callback(tablet, OTHER)
    _upload(tablet)
    with commune.engine.begin() as conn:
        sealed = conn.execute(select(tables.callback_keys.c.sealed_key)
                              .where(tables.callback_keys.c.record_uuid == details.uuid)).scalar_one()
    assert number_for_rating(commune.engine, rating.uuid) == PHONE

    result = subprocess.run([sys.executable, "-m", "server", "erase-callback", "--db", str(commune.db_path),
                             "--rating", rating.uuid], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "erased: 1" in result.stdout and PHONE not in result.stdout + result.stderr

    assert number_for_rating(commune.engine, rating.uuid) is None
    assert number_for_rating(commune.engine, kept_rating.uuid) == OTHER  # only that citizen's
    book = CaseBook(commune.engine, AccountBook(commune.engine))
    case = next(c for c in book.cases(CaseView.OPEN)[0] if c.rating_uuid == rating.uuid)
    assert book.callback_phone(case, people["leader"]) is None
    # The key is destroyed, not hidden: not in the database's files any more.
    assert _holds(_files_of(Path(commune.db_path)), bytes(sealed)) == []
    assert tablet.store.callback_keys.sealed_for([details.uuid]) == {}
    # The records are untouched: the ciphertext is still there, and both chains verify.
    on_server = server_records(commune, tablet.store.device_id)
    assert [r.callback_box for r in on_server if r.uuid == details.uuid] == [details.callback_box]
    assert verify_chain(on_server) == [] and tablet.store.verify() == []

    # The same batch again (a retry, or a replay of a captured one) does not bring the key back.
    tablet.store.callback_keys.add(tablet.store.database.conn, details.uuid, bytes(sealed))
    tablet.store.database.conn.commit() if tablet.store.database.conn.in_transaction else None
    tablet.store.set_outbox_state("acked_through", "0")
    tablet.store.db.execute("DELETE FROM outbox_acks")
    _upload(tablet)
    assert number_for_rating(commune.engine, rating.uuid) is None

    audit = [e for e in AccountBook(commune.engine).audit_entries(per_page=200)[0] if e.action == "callback.erase"]
    assert len(audit) == 1 and rating.uuid in (audit[0].target or "")
    assert PHONE not in json.dumps([vars(e) for e in audit], default=str)


def test_the_retention_erases_numbers_months_after_the_case_is_resolved(commune, tablet, people) -> None:
    rating, _ = _rate_with_callback(tablet, PHONE)
    open_rating, _ = _rate_with_callback(tablet, OTHER)
    _upload(tablet)
    resolved_at = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    book = CaseBook(commune.engine, AccountBook(commune.engine), clock=lambda: resolved_at)
    case = next(c for c in book.cases(CaseView.OPEN)[0] if c.rating_uuid == rating.uuid)
    leader = people["leader"]
    book.assign(case.id, leader.id, leader)
    book.set_outcome(case.id, CaseOutcome.APOLOGY_SENT, leader)
    book.move(case.id, "contacted", leader)
    book.move(case.id, "resolved", leader)
    save_setting(commune.engine, "callback_retention_months", 6)

    # A day short of six months: kept (though no page shows it: the case is resolved).
    assert erase_expired(commune.engine, resolved_at + timedelta(days=180)) == 0
    assert number_for_rating(commune.engine, rating.uuid) == PHONE
    # Six months on: erased; the open case's number stays.
    assert erase_expired(commune.engine, months_before(resolved_at, -6) + timedelta(minutes=1)) == 1
    assert number_for_rating(commune.engine, rating.uuid) is None
    assert number_for_rating(commune.engine, open_rating.uuid) == OTHER
    assert erase_expired(commune.engine, resolved_at + timedelta(days=400)) == 0  # nothing twice
    assert verify_chain(server_records(commune, tablet.store.device_id)) == [] and tablet.store.verify() == []
    entries = AccountBook(commune.engine).audit_entries(per_page=200)[0]
    assert [e.action for e in entries].count("callback.erase_expired") == 1


def test_a_leader_erases_a_number_from_the_page_api_and_an_officer_cannot(commune, tablet, people) -> None:
    rating, _ = _rate_with_callback(tablet, PHONE)
    _upload(tablet)
    assert erase_for_rating(commune.engine, rating.uuid, people["leader"].username) == 1
    assert erase_for_rating(commune.engine, rating.uuid, people["leader"].username) == 0


def test_format_3_details_never_carry_a_number_in_clear() -> None:
    common = dict(kind=KIND_DETAILS, uuid="00000000-0000-4000-8000-000000000002", device_id="t", seq=2,
                  prev_hash="0" * 64, device_time="2026-01-05T08:00:05.000+07:00", monotonic_ns=5, boot_id="b",
                  app_version="0.1.0", rating_uuid="00000000-0000-4000-8000-000000000001", reasons=())
    with pytest.raises(RecordError, match="callback_phone"):
        seal(Record(**common, callback_phone=PHONE, callback_consent=True))
    with pytest.raises(RecordError, match="callback_box"):
        seal(Record(**common, callback_box="AAAA", callback_consent=True, v=2))
    with pytest.raises(RecordError, match="callback_consent"):
        seal(Record(**common, callback_box="AAAA", callback_consent=False))
    with pytest.raises(RecordError, match="callback_box"):
        seal(Record(**common, callback_box="not base64!", callback_consent=True))
    boxed = seal(Record(**common, callback_box="AAAA", callback_consent=True))
    wire = boxed.to_dict()
    assert "callback_phone" not in wire and Record.from_dict(wire) == boxed
    wire["callback_phone"] = PHONE
    with pytest.raises(RecordError, match="callback_phone"):
        Record.from_dict(wire)


def test_the_months_before_a_date_clip_to_the_months_length() -> None:
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), -6) == datetime(2026, 7, 15, tzinfo=UTC)


def test_the_batch_schema_takes_the_sealed_keys_beside_the_records(commune) -> None:
    import requests

    spec = requests.get(f"{commune.url}/openapi.json", timeout=10).json()
    body = spec["paths"][f"{API_PREFIX}/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
    assert "callback_keys" in batch["properties"]
    key = (spec["components"]["schemas"].get("CallbackKeyIn") or batch.get("$defs", {}).get("CallbackKeyIn")
           or body.get("$defs", {})["CallbackKeyIn"])
    assert set(key["properties"]) == {"record_uuid", "sealed_key"} and key["additionalProperties"] is False


def test_an_older_tablets_batch_without_keys_is_taken(tmp_path: Path) -> None:
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        try:
            tablet.pair(commune)
            tablet.rate(2)
            _upload(tablet)
            assert len(server_records(commune, tablet.store.device_id)) == 2
        finally:
            tablet.close()
