"""Tampering on the tablet or on the wire is refused or flagged, and nothing
valid is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid as uuid_module
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk.link.credentials import load_credentials, save_credentials
from kiosk.link.uploader import build_batch_body
from kiosk.store import Batch
from server.store import tables
from sync.record import seal
from tests.sync_support import Commune, ManualClock, Tablet, as_attacker, findings, post, stored

ROOT = Path(__file__).resolve().parents[1]


def test_deleted_rating_is_detected_as_a_gap_and_the_rest_is_kept(commune, tablet):
    tablet.rate(10)
    as_attacker(tablet, "DELETE FROM journal WHERE seq = 5")
    assert tablet.uploader().run_once().pending == 0
    kept = stored(commune, tablet.store.device_id)
    assert sorted(kept) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert "after_gap" in kept[6]["flags"]
    assert findings(commune, tablet.store.device_id) == [(5, "gap")]
    assert commune.registry.health(tablet.store.device_id)[0]["chain_status"] == "flagged"


def test_edited_score_is_flagged_before_upload_and_a_conflict_after(commune, tablet):
    tablet.rate(6)
    as_attacker(tablet, "UPDATE journal SET score = 1, level = 'dissatisfied' WHERE seq = 2")
    tablet.uploader().run_once()
    kept = stored(commune, tablet.store.device_id)
    assert len(kept) == 6 and "bad_hash" in kept[2]["flags"]
    assert (2, "bad_hash") in findings(commune, tablet.store.device_id)

    # After upload: edit seq 4 and make the tablet send it again.
    original = kept[4]["record"]
    as_attacker(tablet, "UPDATE journal SET score = CASE WHEN score = 1 THEN 3 ELSE 1 END WHERE seq = 4",
                "DELETE FROM outbox_acks WHERE seq = 4",
                "UPDATE outbox_state SET value = '3' WHERE key = 'acked_through'")
    tablet.uploader().run_once()
    assert [a["status"] for a in tablet.store.acks() if a["seq"] == 4] == ["conflict"]
    assert stored(commune, tablet.store.device_id)[4]["record"] == original  # the evidence is not overwritten
    with commune.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(tables.conflicts)).scalar() == 1
    assert (4, "conflict") in findings(commune, tablet.store.device_id)


def test_forged_rating_is_flagged_and_a_forged_seq_is_refused(commune, tablet):
    made = tablet.rate(3)
    # A row slipped in at the end with a made-up hash.
    forged = replace(made[-1], uuid=str(uuid_module.uuid4()), seq=4, score=1, level="dissatisfied", hash="ab" * 32)
    row = forged.to_dict()
    columns = ", ".join(k for k in row if k != "reasons" and k != "v") + ", v"
    values = [row[k] for k in row if k not in ("reasons", "v")] + [1]
    tablet.store.db.conn.execute(f"INSERT INTO journal ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    tablet.uploader().run_once()
    assert "bad_hash" in stored(commune, tablet.store.device_id)[4]["flags"]

    # A well-formed forgery claiming a place already taken is refused (409) and kept aside.
    credentials = load_credentials(tablet.store.device_secret_path)
    claim = seal(replace(made[1], uuid=str(uuid_module.uuid4()), score=1, level="dissatisfied", hash=""))
    body = build_batch_body(Batch("forgery-0001", (claim,)), credentials.device_id,
                            sent_at=tablet.clock.now().isoformat(timespec="milliseconds"),
                            sent_monotonic_ns=tablet.clock.monotonic_ns(), boot_id=tablet.clock.boot(),
                            app_version="0.1.0", pending=0)
    answer = post(commune, credentials.device_id, credentials.secret, body)
    assert answer.status_code == 200
    assert answer.json()["results"][0]["http_status"] == 409
    assert stored(commune, tablet.store.device_id)[2]["uuid"] == made[1].uuid


def test_replayed_old_batch_stores_nothing_twice_and_does_not_move_the_clock(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, clock=clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        try:
            replay_old_batch(commune, tablet, clock)
        finally:
            tablet.close()


def replay_old_batch(commune: Commune, tablet: Tablet, clock: ManualClock) -> None:
    made = tablet.rate(5)
    credentials = load_credentials(tablet.store.device_secret_path)
    body = build_batch_body(Batch("old-batch-0001", tuple(made)), credentials.device_id,
                            sent_at=tablet.clock.now().isoformat(timespec="milliseconds"),
                            sent_monotonic_ns=tablet.clock.monotonic_ns(), boot_id=tablet.clock.boot(),
                            app_version="0.1.0", pending=0)
    first = post(commune, credentials.device_id, credentials.secret, body)
    assert first.json()["counts"]["stored"] == 5
    before = commune.registry.health()[0]
    clock.advance(60)  # the replay arrives a minute later on the server's clock
    again = post(commune, credentials.device_id, credentials.secret, body)
    assert again.status_code == 200 and again.json()["replay"] is True
    assert again.json()["results"] == first.json()["results"]
    assert len(stored(commune, credentials.device_id)) == 5
    # A captured batch replayed later does not make the tablet look alive.
    after = commune.registry.health()[0]
    for key in ("clock_offset_s", "last_seen_at", "pending_count", "app_version"):
        assert after[key] == before[key], key
    # The same key with other records is refused.
    other = build_batch_body(Batch("old-batch-0001", tuple(made[:2])), credentials.device_id,
                             sent_at=tablet.clock.now().isoformat(timespec="milliseconds"),
                             sent_monotonic_ns=tablet.clock.monotonic_ns(), boot_id=tablet.clock.boot(),
                             app_version="0.1.0", pending=0)
    refused = post(commune, credentials.device_id, credentials.secret, other)
    assert refused.status_code == 422 and refused.json()["error"] == "idempotency_key_reused"


def test_wrong_key_is_refused_with_401_and_nothing_is_stored(commune, tablet):
    tablet.rate(4)
    credentials = load_credentials(tablet.store.device_secret_path)
    save_credentials(tablet.store.device_secret_path, replace(credentials, secret="not-the-secret"))
    status = tablet.uploader().run_once()
    assert status.state == "unauthorized" and status.pending == 4
    assert "401" in status.last_error
    assert stored(commune, tablet.store.device_id) == {}
    body = b'{"protocol":1}'
    answer = post(commune, credentials.device_id, "wrong", body)
    assert answer.status_code == 401 and answer.json()["error"] == "bad_signature"
    unknown = post(commune, "nobody", "wrong", body)
    assert unknown.status_code == 401 and unknown.json()["error"] == "unknown_device"


@pytest.mark.slow  # a real subprocess (the technician's command)
def test_revoked_device_is_refused_with_a_reason_and_keeps_its_data(commune, tablet):
    tablet.rate(3)
    tablet.uploader().run_once()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "server", "revoke", tablet.store.device_id,
                           "--db", str(commune.db_path), "--reason", "stolen"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    tablet.rate(2)
    status = tablet.uploader().run_once()
    assert status.state == "revoked" and status.pending == 2
    assert "revoked" in status.last_error
    assert tablet.store.count() == 5  # local data kept
    assert len(stored(commune, tablet.store.device_id)) == 3
    health = commune.registry.health(tablet.store.device_id)[0]
    assert health["status"] == "revoked" and health["revoked_reason"] == "stolen"
    credentials = load_credentials(tablet.store.device_secret_path)
    answer = post(commune, credentials.device_id, credentials.secret, b"{}")
    assert answer.status_code == 403 and answer.json()["error"] == "device_revoked"
    assert "revoked" in answer.json()["detail"]


def test_a_uuid_squatted_by_another_tablet_neither_claims_nor_blocks_the_owners_rating(commune, tablet, tmp_path):
    """A second paired tablet uploads a record with the UUID of the first's
    pending rating (it shows in the thank-you QR code): both are kept, each
    on its own device, and each device's findings name the other."""
    (pending,) = tablet.rate(1)
    squatter = Tablet(tmp_path / "squatter", commune.url)
    squatter.pair(commune)
    try:
        credentials = load_credentials(squatter.store.device_secret_path)
        (own,) = squatter.rate(1)
        forged = seal(replace(own, uuid=pending.uuid, hash=""))
        body = build_batch_body(Batch("squat-0001", (forged,)), credentials.device_id,
                                sent_at=squatter.clock.now().isoformat(timespec="milliseconds"),
                                sent_monotonic_ns=squatter.clock.monotonic_ns(), boot_id=squatter.clock.boot(),
                                app_version="0.1.0", pending=0)
        answer = post(commune, credentials.device_id, credentials.secret, body)
        assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "stored"

        # The owner uploads afterwards: its rating is stored as its own, not refused as a conflict.
        assert tablet.uploader().run_once().pending == 0
        assert [a["status"] for a in tablet.store.acks()] == ["stored"]
        kept = stored(commune, tablet.store.device_id)
        assert kept[1]["record"] == pending and "uuid_reused" in kept[1]["flags"]
        assert stored(commune, credentials.device_id)[1]["record"] == forged
        owner_findings = commune.registry.health(tablet.store.device_id)[0]["findings"]
        squatter_findings = commune.registry.health(credentials.device_id)[0]["findings"]
        assert any(f["problem"] == "uuid_reused" and credentials.device_id in f["detail"] for f in owner_findings)
        assert any(f["problem"] == "uuid_reused" and tablet.store.device_id in f["detail"]
                   for f in squatter_findings)
    finally:
        squatter.close()


def test_an_unknown_device_is_refused_before_its_body_is_read(commune):
    """A caller naming no paired device gets its 401 while its (batch-sized)
    body is still on the way: the server does not hold it first."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(commune.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as client:
        client.sendall(b"POST /api/v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"X-Hailong-Device: nobody\r\nX-Hailong-Signature: sha256=00\r\n"
                       b"Content-Length: 4000000\r\n\r\n" + b"[" * 1000)
        answer = b""
        while b"unknown_device" not in answer:  # the rest of the body never comes
            piece = client.recv(4096)
            if not piece:
                break
            answer += piece
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]
    assert b"unknown_device" in answer
