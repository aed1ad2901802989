"""Forward integrity of the journal: an attacker who takes the tablet at a
time t — its database (with the sealing key of that moment), its secret and
the project's code — cannot alter, delete, insert, reorder or re-hash any
record sealed before t without the server raising a finding that names the
device and the place; what the tablet does honestly afterwards still syncs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import replace

import pytest
import requests

from kiosk.link.credentials import load_credentials
from kiosk.store.journal import to_row
from kiosk.store.sealing import KeyEraser
from sync import seal as sealing
from sync.protocol import API_PREFIX, DEVICE_HEADER, SIGNATURE_HEADER, sign
from sync.record import (
    FORMAT_VERSION,
    GENESIS_HASH,
    KIND_RATING,
    Record,
    RecordError,
    canonical_bytes,
    seal,
    verify_chain,
)
from tests.sync_support import Commune, Tablet, as_attacker, findings, server_records, stored

SEAL_FINDINGS = {"bad_seal", "unsealed_after_pairing"}


# -- the attacker ------------------------------------------------------------------


def stolen_key(tablet: Tablet) -> tuple[int, bytes]:
    """What the attacker finds in the database at time t: the key of the next record."""
    seq, key = tablet.store.db.conn.execute("SELECT seq, key FROM seal_keys WHERE slot = 'current'").fetchone()
    return seq, bytes(key)


def rewrite(tablet: Tablet, change: Callable[[list[Record]], list[Record]], *, resend: bool) -> None:
    """Change the journal with the project's own code: renumber and re-hash
    every record from the first one changed, re-seal every record from the
    stolen key's place on (the attacker can: they hold that key), and keep
    whatever seal the others carry (they cannot compute those). With
    ``resend`` the outbox forgets what was acknowledged, so the tablet sends
    everything again."""
    key_seq, key = stolen_key(tablet)
    rewritten, prev = [], GENESIS_HASH
    for seq, record in enumerate(change(tablet.store.records()), 1):
        record = seal(replace(record, seq=seq, prev_hash=prev, hash=""))
        if record.v >= 2 and seq >= key_seq:
            record = replace(record, seal=sealing.seal_record(sealing.key_after(key, seq - key_seq), record))
        rewritten.append(record)
        prev = record.hash
    assert verify_chain(rewritten) == []  # the chain alone no longer tells
    statements = ["DELETE FROM journal"]
    if resend:
        statements += ["DELETE FROM outbox_acks", "DELETE FROM outbox_state WHERE key = 'acked_through'"]
    as_attacker(tablet, *statements)
    conn = tablet.store.db.conn
    for record in rewritten:
        row = to_row(record)
        conn.execute(f"INSERT INTO journal ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def edit_score(at: int) -> Callable[[list[Record]], list[Record]]:
    def change(records: list[Record]) -> list[Record]:
        r = records[at - 1]
        score, level = (1, "dissatisfied") if r.score != 1 else (2, "neutral")
        records[at - 1] = replace(r, score=score, level=level)
        return records
    return change


def delete(at: int) -> Callable[[list[Record]], list[Record]]:
    return lambda records: records[: at - 1] + records[at:]


def insert(at: int) -> Callable[[list[Record]], list[Record]]:
    def change(records: list[Record]) -> list[Record]:
        forged = replace(records[at - 1], uuid=str(uuid_module.uuid4()), score=1, level="dissatisfied")
        return records[: at - 1] + [forged] + records[at - 1:]
    return change


def reorder(first: int, second: int) -> Callable[[list[Record]], list[Record]]:
    def change(records: list[Record]) -> list[Record]:
        records[first - 1], records[second - 1] = records[second - 1], records[first - 1]
        return records
    return change


def strip_seals(start: int) -> Callable[[list[Record]], list[Record]]:
    """Pass the records from ``start`` off as format 1, which has no seal."""
    return lambda records: records[: start - 1] + [replace(r, v=1, seal="") for r in records[start - 1:]]


ATTACKS = {
    "edit": (edit_score(4), 4),
    "full re-hash from the first record": (edit_score(1), 1),
    "delete and renumber": (delete(5), 5),
    "insert": (insert(3), 3),
    "reorder": (reorder(3, 7), 3),
    "strip the seals": (strip_seals(4), 4),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_rewriting_records_not_yet_uploaded_is_found(commune, tablet, attack):
    change, first_bad = ATTACKS[attack]
    tablet.rate(10)  # sealed; none uploaded when the tablet is taken
    rewrite(tablet, change, resend=False)
    status = tablet.uploader().run_once()
    assert status.pending == 0
    device = tablet.store.device_id
    found = findings(commune, device)
    # A seal finding at the first record changed (a reordering also shows
    # the monotonic clock going backwards, later on).
    assert any(seq == first_bad and problem in SEAL_FINDINGS for seq, problem in found), found
    assert min(seq for seq, _ in found) == first_bad, found
    # The rewritten records are kept, flagged, as chain findings are.
    kept = stored(commune, device)
    assert {"bad_seal", "unsealed"} & set(kept[first_bad]["flags"].split())
    assert all(not ({"bad_seal", "unsealed"} & set(kept[s]["flags"].split())) for s in range(1, first_bad))
    health = commune.registry.health(device)[0]
    assert health["chain_status"] == "flagged" and health["device_id"] == device


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_rewriting_records_uploaded_before_is_found(commune, tablet, attack):
    change, first_bad = ATTACKS[attack]
    tablet.rate(10)
    assert tablet.uploader().run_once().pending == 0
    device = tablet.store.device_id
    honest = server_records(commune, device)
    assert findings(commune, device) == []
    rewrite(tablet, change, resend=True)
    tablet.uploader().run_once()
    found = findings(commune, device)
    assert found and min(seq for seq, _ in found) == first_bad, found
    # What the server held is not overwritten.
    assert server_records(commune, device)[: first_bad - 1] == honest[: first_bad - 1]
    assert {r.uuid: r for r in honest}.items() <= {r.uuid: r for r in server_records(commune, device)}.items()


def test_records_made_honestly_after_the_theft_still_sync(commune, tablet):
    tablet.rate(6)
    tablet.uploader().run_once()
    tablet.rate(4)  # 7..10, sealed, not uploaded
    rewrite(tablet, edit_score(8), resend=False)
    later = tablet.rate(3)  # the tablet's own code goes on with the key it holds
    assert [r.seq for r in later] == [11, 12, 13] and all(r.seal for r in later)
    assert tablet.uploader().run_once().pending == 0
    device = tablet.store.device_id
    found = findings(commune, device)
    assert found == [(8, "bad_seal"), (9, "bad_seal"), (10, "bad_seal")]
    kept = stored(commune, device)
    assert sorted(kept) == list(range(1, 14))
    assert all(kept[s]["flags"] == "" for s in (11, 12, 13))
    # The server keeps the key of the record after the last verified one, only.
    with commune.engine.begin() as conn:
        from sqlalchemy import select

        from server.store import tables
        row = conn.execute(select(tables.devices.c.seal_seq, tables.devices.c.seal_key)
                           .where(tables.devices.c.device_id == device)).one()
    assert row[0] == 14 and bytes(row[1]) == stolen_key(tablet)[1]


def test_a_stolen_secret_cannot_start_sealing_over(commune, tablet):
    """With the device secret, the attacker asks the server to take a key of
    their own (to re-seal everything with it): refused, the first key stays."""
    tablet.rate(2)
    credentials = load_credentials(tablet.store.device_secret_path)

    def register(first_seq: int, key: bytes) -> requests.Response:
        body = json.dumps({"device_id": credentials.device_id, "first_seq": first_seq, "key": key.hex()}).encode()
        return requests.post(f"{commune.url}{API_PREFIX}/seal-key", data=body, timeout=10, headers={
            "Content-Type": "application/json", DEVICE_HEADER: credentials.device_id,
            SIGNATURE_HEADER: sign(credentials.secret, body)})

    refused = register(1, bytes(32))
    assert refused.status_code == 409 and refused.json()["error"] == "seal_key_refused"
    assert register(3, sealing.new_key()).status_code == 409
    unsigned = requests.post(f"{commune.url}{API_PREFIX}/seal-key", json={}, timeout=10)
    assert unsigned.status_code == 401
    assert tablet.uploader().run_once().pending == 0
    assert findings(commune, tablet.store.device_id) == []
    assert commune.registry.health(tablet.store.device_id)[0]["sealed_from_seq"] == 1


def test_a_tablet_paired_after_records_existed_reports_them_unsealed(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        try:
            assert not tablet.store.seal_keys.state().sealing  # the kiosk warns: unpaired, unsealed
            before = tablet.rate(5)
            assert all(r.v == FORMAT_VERSION and r.seal == "" for r in before)
            tablet.pair(commune)
            state = tablet.store.seal_keys.state()
            assert state.sealing and state.registered and state.first_seq is None  # none sealed yet
            after = tablet.rate(3)
            assert all(r.seal for r in after)
            assert tablet.store.seal_keys.state().first_seq == 6
            assert tablet.uploader().run_once().pending == 0
            health = commune.registry.health(tablet.store.device_id)[0]
            assert health["sealed_from_seq"] == 6 and health["unsealed_count"] == 5
            assert health["chain_status"] == "intact" and health["findings"] == []
        finally:
            tablet.close()


def test_an_old_journal_of_format_1_uploads_and_verifies(tmp_path):
    """Records written before seals (format 1, as the code before this change
    wrote them) sync beside the new sealed ones and keep their bytes."""
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        try:
            made = [replace(r, v=1) for r in tablet.rate(3)]
            old, prev = [], GENESIS_HASH
            for record in made:  # re-chained as format 1 records
                record = seal(replace(record, prev_hash=prev, hash=""))
                old.append(record)
                prev = record.hash
            rows = [to_row(r) for r in old]
            assert all("seal" not in row for row in rows)
            as_attacker(tablet, "DELETE FROM journal")
            for row in rows:
                tablet.store.db.conn.execute(
                    f"INSERT INTO journal ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
            assert tablet.store.records() == old and tablet.store.verify() == []
            assert "seal" not in old[0].to_dict() and Record.from_dict(old[0].to_dict()) == old[0]
            tablet.pair(commune)
            new = tablet.rate(2)
            assert [r.v for r in new] == [FORMAT_VERSION] * 2 and all(r.seal for r in new)
            assert tablet.uploader().run_once().pending == 0
            device = tablet.store.device_id
            assert server_records(commune, device) == old + new  # rebuilt to the very records sent
            assert findings(commune, device) == []
            health = commune.registry.health(device)[0]
            assert (health["sealed_from_seq"], health["unsealed_count"], health["records_count"]) == (4, 3, 5)
        finally:
            tablet.close()


def test_the_old_key_is_overwritten_in_the_files(commune, tablet):
    tablet.rate(1, fast=False)
    _, first = stolen_key(tablet)
    keys = [first]
    for _ in range(3):
        tablet.rate(1, fast=False)
        keys.append(stolen_key(tablet)[1])
    assert len(set(keys)) == 4 and keys[1] == sealing.next_key(keys[0])
    assert tablet.store.db.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert tablet.store.seal_keys.owed_registration() is None  # the first key went to the server, then away
    # The log is emptied of older keys right after each append, off the tap's thread.
    assert KeyEraser.wait(tablet.db_path, timeout=10)
    files = [tablet.db_path, tablet.db_path.with_name(tablet.db_path.name + "-wal")]
    content = b"".join(path.read_bytes() for path in files if path.exists())
    assert keys[-1] in content  # the key of the next record is there, as it must be
    for old in keys[:-1]:
        assert old not in content


# -- the format and the key's evolution ----------------------------------------------------


def _rating(**changes: object) -> Record:
    values: dict = dict(kind=KIND_RATING, uuid="00000000-0000-4000-8000-000000000001",
                        device_id="5b0c9a52-3a1e-4f0e-9d8e-2f1f6a0c0b11", seq=1, prev_hash=GENESIS_HASH,
                        device_time="2026-01-05T08:00:00.000+07:00", monotonic_ns=10**9, boot_id="boot-1",
                        app_version="0.1.0", officer_id="nguyen-thi-lan", counter_id="quay-1", score=3, scale=3,
                        level="very_satisfied", burst=False, comment_token="tok")
    values.update(changes)
    return seal(Record(**values))


def test_format_2_encoding_seal_and_key_evolution_are_pinned():
    record = _rating(v=2)
    assert canonical_bytes(record).endswith(b'"uuid":"00000000-0000-4000-8000-000000000001","v":2}')
    assert b"seal" not in canonical_bytes(record)  # outside the hash
    key = bytes(range(32))
    assert sealing.next_key(key).hex() == hashlib.sha256(b"hailong-seal-next" + key).hexdigest()
    assert sealing.key_after(key, 3) == sealing.next_key(sealing.next_key(sealing.next_key(key)))
    sealed = replace(record, seal=sealing.seal_record(key, record))
    assert sealing.record_seal_matches(key, sealed)
    assert not sealing.record_seal_matches(sealing.next_key(key), sealed)
    assert not sealing.record_seal_matches(key, replace(sealed, seal=""))
    assert sealed.to_dict()["seal"] == sealed.seal and Record.from_dict(sealed.to_dict()) == sealed
    assert verify_chain([sealed]) == []


@pytest.mark.parametrize("key_bytes", (0, 1, 32, 63, 64, 65, 200))
def test_the_seal_is_the_standard_hmac_sha256(key_bytes):
    for message in (b"", b"x", os.urandom(55), os.urandom(64), os.urandom(480), os.urandom(5000)):
        key = os.urandom(key_bytes)
        assert sealing.seal_digest(key, message) == hmac.new(key, message, hashlib.sha256).digest()
    record = _rating(v=2)
    key = bytes(range(32))
    assert sealing.seal_record(key, record) == hmac.new(
        key, canonical_bytes(record) + record.hash.encode("ascii"), hashlib.sha256).hexdigest()


def test_both_versions_parse_and_each_keeps_its_fields():
    v1 = _rating(v=1)
    assert "seal" not in v1.to_dict() and Record.from_dict(v1.to_dict()) == v1
    with pytest.raises(RecordError, match="seal"):
        Record.from_dict({**v1.to_dict(), "seal": ""})  # format 1 has no seal
    v2 = _rating(v=2)
    without = v2.to_dict()
    del without["seal"]
    with pytest.raises(RecordError, match="seal: missing"):
        Record.from_dict(without)
    with pytest.raises(RecordError, match="seal"):
        Record.from_dict({**v2.to_dict(), "seal": "xyz"})
    with pytest.raises(RecordError, match="format version"):
        replace(v2, v=99).validate()


def test_the_devices_page_marks_unsealed_records(tmp_path):
    from tests.web.support import logged_in_admin

    with Commune(tmp_path) as commune:
        early = Tablet(tmp_path / "early", commune.url)  # ratings before pairing
        never = Tablet(tmp_path / "never", commune.url)  # paired, but no key ever reached the server
        try:
            early.rate(4)
            early.pair(commune)
            early.rate(2)
            assert early.uploader().run_once().pending == 0
            never.pair(commune)
            with commune.engine.begin() as conn:
                from sqlalchemy import update

                from server.store import tables
                conn.execute(update(tables.devices).where(tables.devices.c.device_id == never.store.device_id)
                             .values(seal_first_seq=None, seal_seq=None, seal_key=None, seal_key_id=None))
            session = logged_in_admin(commune)
            page = session.get(f"{commune.url}/devices", timeout=10)
            assert page.status_code == 200
            rows = {row.split('"')[0]: row for row in page.text.split('<tr data-device="')[1:]}
            assert "4 bản ghi chưa niêm phong" in rows[early.store.device_id]
            assert "Chưa niêm phong" in rows[never.store.device_id]
            api = session.get(f"{commune.url}{API_PREFIX}/devices/{early.store.device_id}", timeout=10).json()
            assert (api["sealed_from_seq"], api["unsealed_count"]) == (5, 4)
        finally:
            early.close()
            never.close()
