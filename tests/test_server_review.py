"""Regression tests for defects found in review of the server and protocol:
a forged record filling a hole, device times at the ends of the calendar,
non-ASCII signatures, the database file's permissions and replayed signed
GETs. Each runs against a real server on loopback or the pure functions."""

from __future__ import annotations

import json
import os
import stat
import uuid as uuid_module
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from kiosk.link.credentials import load_credentials
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink, TransportError
from kiosk.link.uploader import build_batch_body
from kiosk.store import Batch
from server.clock import parse_device_time
from server.roster import RosterStore
from server.store import database_url, open_engine, tables
from sync.protocol import (
    API_PREFIX,
    DEVICE_HEADER,
    SERVER_TIME_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    get_signing_text,
    sign,
    verify,
)
from sync.record import seal
from tests.sync_support import (
    TEST_DATABASE_URL,
    Commune,
    ManualClock,
    ScratchDatabase,
    Tablet,
    as_attacker,
    findings,
    post,
    roster_file,
    sqlite_only,
    stored,
)


def send(commune: Commune, tablet: Tablet, key: str, records, *, sent_at: str | None = None) -> requests.Response:
    """Post records as the tablet would, signed with its secret."""
    credentials = load_credentials(tablet.store.device_secret_path)
    body = build_batch_body(Batch(key, tuple(records)), credentials.device_id,
                            sent_at=sent_at or tablet.clock.now().isoformat(timespec="milliseconds"),
                            sent_monotonic_ns=tablet.clock.monotonic_ns(), boot_id=tablet.clock.boot(),
                            app_version="0.1.0", pending=0)
    return post(commune, credentials.device_id, credentials.secret, body)


def send_dicts(commune: Commune, tablet: Tablet, key: str, items: list[dict], **changes) -> requests.Response:
    """Post raw wire records (which need not be valid) in a signed envelope."""
    credentials = load_credentials(tablet.store.device_secret_path)
    envelope = {
        "protocol": 1, "device_id": credentials.device_id, "idempotency_key": key,
        "sent_at": tablet.clock.now().isoformat(timespec="milliseconds"),
        "sent_monotonic_ns": tablet.clock.monotonic_ns(), "boot_id": tablet.clock.boot(),
        "app_version": "0.1.0", "pending": 0, "records": items, **changes,
    }
    return post(commune, credentials.device_id, credentials.secret, json.dumps(envelope).encode())


def gap_at_three(commune: Commune, tablet: Tablet) -> list:
    """Five ratings, the third deleted on the tablet before upload: the server holds 1, 2, 4, 5."""
    made = tablet.rate(5)
    as_attacker(tablet, "DELETE FROM journal WHERE seq = 3")
    assert tablet.uploader().run_once().pending == 0
    assert sorted(stored(commune, tablet.store.device_id)) == [1, 2, 4, 5]
    assert findings(commune, tablet.store.device_id) == [(3, "gap")]
    return made


# -- 1. a record filling a hole must link to the record after it too ---------------------------


def test_forged_gap_filler_breaks_the_link_to_the_record_after_it(commune, tablet):
    made = gap_at_three(commune, tablet)
    # Made up afterwards: links to rating 2, but rating 4 was chained to the real rating 3.
    forged = seal(replace(made[2], uuid=str(uuid_module.uuid4()), score=1, level="dissatisfied", hash=""))
    assert forged.prev_hash == made[1].hash and forged.hash != made[3].prev_hash
    answer = send(commune, tablet, "forged-filler-1", [forged])
    assert answer.status_code == 200
    result = answer.json()["results"][0]
    assert result["status"] == "stored" and set(result["flags"]) >= {"late", "broken_link"}
    kept = stored(commune, tablet.store.device_id)
    assert kept[3]["uuid"] == forged.uuid and "broken_link" in kept[3]["flags"].split()  # kept as evidence
    device = tablet.store.device_id
    assert (3, "broken_link") in findings(commune, device)
    assert commune.registry.health(device)[0]["chain_status"] == "flagged"


def test_honest_late_record_resolves_the_gap(commune, tablet):
    made = gap_at_three(commune, tablet)
    answer = send(commune, tablet, "honest-late-1", [made[2]])
    result = answer.json()["results"][0]
    assert result["status"] == "stored" and result["flags"] == ["late"]
    health = commune.registry.health(tablet.store.device_id)[0]
    assert health["chain_status"] == "intact"
    gap = [f for f in health["findings"] if f["problem"] == "gap"]
    assert len(gap) == 1 and gap[0]["resolved_at"]  # kept, but resolved


def test_wider_gap_is_resolved_only_when_every_missing_record_arrived(commune, tablet):
    made = tablet.rate(6)
    as_attacker(tablet, "DELETE FROM journal WHERE seq IN (2, 3, 4)")
    tablet.uploader().run_once()
    device = tablet.store.device_id
    assert findings(commune, device) == [(2, "gap")]
    send(commune, tablet, "late-three", [made[2]])  # neither neighbour held: nothing to resolve yet
    send(commune, tablet, "late-two", [made[1]])
    assert commune.registry.health(device)[0]["chain_status"] == "flagged"  # 4 still missing
    answer = send(commune, tablet, "late-four", [made[3]])
    assert answer.json()["results"][0]["flags"] == ["late"]
    assert commune.registry.health(device)[0]["chain_status"] == "intact"


# -- 2. device times at the ends of the calendar ----------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.000+14:00", "9999-12-31T23:59:59.999-14:00"])
def test_unconvertible_device_time_is_refused_not_a_crash(when):
    with pytest.raises(ValueError):
        parse_device_time(when)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.000+14:00", "9999-12-31T23:59:59.999-14:00"])
def test_record_at_the_end_of_the_calendar_is_rejected_alone(commune, tablet, when):
    made = [r.to_dict() for r in tablet.rate(2)]
    made[1]["device_time"] = when
    answer = send_dicts(commune, tablet, "calendar-end-" + when[:4], made)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected"]
    assert results[1]["http_status"] == 422 and "device_time" in results[1]["detail"]
    # The device is not stalled: its next batch goes through.
    assert send(commune, tablet, "after-calendar-end", tablet.rate(1)).status_code == 200


def test_record_whose_corrected_time_would_leave_the_calendar_is_rejected_alone(commune, tablet):
    """A sane sent_at far in the past gives a huge offset; a record near 9999
    shifted by it cannot be placed and is refused alone."""
    made = tablet.rate(1)[0]
    late = seal(replace(made, device_time="9999-06-01T00:00:00.000+00:00", boot_id="never-anchored", hash=""))
    answer = send(commune, tablet, "offset-overflow-1", [late], sent_at="0100-01-01T00:00:00.000+00:00")
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "rejected"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.000+14:00", "9999-12-31T23:59:59.999-14:00"])
def test_sent_at_at_the_end_of_the_calendar_is_a_4xx(commune, tablet, when):
    answer = send_dicts(commune, tablet, "sent-at-end-" + when[:4], [], sent_at=when)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "malformed" and "sent_at" in answer.json()["detail"]


# -- 3. a non-ASCII signature is a wrong signature ---------------------------------------------------


def test_non_ascii_signature_does_not_verify():
    assert verify("secret", b"body", "sha256=\u00e9\u00e9") is False
    assert verify("secret", b"body", "sha256=\u1ea1") is False
    assert verify("secret", b"body", sign("secret", b"body")) is True


def test_non_ascii_signature_header_is_401(commune, tablet):
    credentials = load_credentials(tablet.store.device_secret_path)
    body = b'{"protocol":1}'
    answer = requests.post(f"{commune.url}{API_PREFIX}/batches", data=body, timeout=10, headers={
        "Content-Type": "application/json", DEVICE_HEADER: credentials.device_id,
        SIGNATURE_HEADER: "sha256=\u00e9".encode("latin-1")})
    assert answer.status_code == 401 and answer.json()["error"] == "bad_signature"


# -- 4. the database holds device secrets: owner only ----------------------------------------------


@sqlite_only
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_server_database_files_are_private(tmp_path):
    old = os.umask(0o022)  # a usual umask: files readable by everyone unless made private
    try:
        path = tmp_path / "private" / "commune.db"
        engine = open_engine(path)
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            for file in files:
                assert file.exists(), file
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        engine.dispose()
        # A database made readable by an older version is made private when opened.
        os.chmod(path, 0o644)
        engine = open_engine(path)
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        engine.dispose()
    finally:
        os.umask(old)


# -- 5. signed GETs expire ----------------------------------------------------------------------------


def signed_get(commune: Commune, credentials, path: str, timestamp: str) -> requests.Response:
    return requests.get(f"{commune.url}{path}", timeout=10, headers={
        DEVICE_HEADER: credentials.device_id, TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(credentials.secret, get_signing_text(path, timestamp))})


def test_signed_get_with_an_old_or_future_timestamp_is_refused(commune, tablet):
    RosterStore(commune.engine).import_file(roster_file(tablet))
    credentials = load_credentials(tablet.store.device_secret_path)
    path = f"{API_PREFIX}/roster"
    now = datetime.now(UTC)
    assert signed_get(commune, credentials, path, now.isoformat(timespec="seconds")).status_code == 200
    for skew in (timedelta(minutes=-11), timedelta(minutes=11), timedelta(days=-400)):
        answer = signed_get(commune, credentials, path, (now + skew).isoformat(timespec="seconds"))
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "stale_timestamp" and answer.json()["detail"]
        assert answer.headers.get(SERVER_TIME_HEADER)
    for junk in ("", "yesterday", "2026-03-02T08:00:00", "0001-01-01T00:00:00+14:00"):
        answer = signed_get(commune, credentials, path, junk)
        assert answer.status_code == 401 and answer.json()["error"] == "stale_timestamp", junk
    officer = json.loads(signed_get(commune, credentials, path, now.isoformat()).content)["officers"][0]["id"]
    portrait = f"{API_PREFIX}/roster/portraits/{officer}"
    stale = signed_get(commune, credentials, portrait, (now - timedelta(hours=1)).isoformat())
    assert stale.status_code == 401 and stale.json()["error"] == "stale_timestamp"


def test_signed_get_window_is_configurable(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, signed_get_window_s=30, clock=clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(roster_file(tablet))
        credentials = load_credentials(tablet.store.device_secret_path)
        path = f"{API_PREFIX}/roster"
        minute_ago = (clock() - timedelta(minutes=1)).isoformat()
        assert signed_get(commune, credentials, path, minute_ago).status_code == 401
        # A request signed now is accepted now, and refused when replayed 31 s later.
        signed_now = clock().isoformat()
        assert signed_get(commune, credentials, path, signed_now).status_code == 200
        clock.advance(31)
        replayed = signed_get(commune, credentials, path, signed_now)
        assert replayed.status_code == 401 and replayed.json()["error"] == "stale_timestamp"
        # The time every answer carries is the server's clock, the injected one.
        assert replayed.headers[SERVER_TIME_HEADER] == clock().isoformat(timespec="milliseconds")
        tablet.close()


@pytest.mark.parametrize("skew", [timedelta(days=-3), timedelta(hours=5)])
def test_tablet_with_a_drifted_clock_still_fetches_the_roster(tmp_path, skew):
    """The link learns the server's time from its answers and signs with the
    corrected time: a clock days off does not lock the tablet out."""
    drifted = lambda: datetime.now(UTC) + skew  # noqa: E731
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(roster_file(tablet))
        link = ServerLink(commune.url, load_credentials(tablet.store.device_secret_path), now=drifted)
        roster = RosterSync(roster_directory(tablet.db_path), link).fetch()
        assert roster is not None and all(o["photo_file"] for o in roster["officers"] if o.get("photo"))
        assert abs(link.clock_offset_s + skew.total_seconds()) < 5
        assert RosterSync(roster_directory(tablet.db_path), link).fetch() is None  # 304, no retry needed
        tablet.close()


def test_link_does_not_retry_forever_when_the_server_keeps_refusing(tmp_path):
    with Commune(tmp_path, signed_get_window_s=0) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        link = ServerLink(commune.url, load_credentials(tablet.store.device_secret_path))
        with pytest.raises(TransportError) as failure:
            link.get_signed(f"{API_PREFIX}/roster", None, "2000-01-01T00:00:00+00:00")
        assert failure.value.status == 401 and failure.value.code == "stale_timestamp"
        tablet.close()


def test_database_from_an_older_version_gets_the_new_findings_column(tmp_path):
    # The findings table as the older version made it, on the database the tests run on.
    scratch = ScratchDatabase(TEST_DATABASE_URL) if TEST_DATABASE_URL else None
    path = scratch.url if scratch else tmp_path / "old.db"
    key = "SERIAL PRIMARY KEY" if scratch else "INTEGER PRIMARY KEY"
    try:
        old = create_engine(database_url(path), poolclass=NullPool)
        with old.begin() as conn:
            conn.execute(text(f"CREATE TABLE findings (id {key}, device_id VARCHAR(64) NOT NULL, seq BIGINT, "
                              "uuid VARCHAR(64), problem VARCHAR(32) NOT NULL, detail TEXT NOT NULL, "
                              "found_at VARCHAR(40) NOT NULL, batch_key VARCHAR(100))"))
            conn.execute(text("INSERT INTO findings (device_id, seq, problem, detail, found_at) "
                              "VALUES ('d', 3, 'gap', 'records 3..3 are missing', '2026-01-01T00:00:00.000+00:00')"))
        old.dispose()
        engine = open_engine(path)
        with engine.begin() as conn:
            found = conn.execute(select(tables.findings.c.problem, tables.findings.c.resolved_at)).all()
            assert found == [("gap", None)]
        engine.dispose()
        # Opened again, the column is there already: nothing is altered twice.
        open_engine(path).dispose()
    finally:
        if scratch is not None:
            scratch.drop()


def test_a_pool_with_no_free_connection_is_a_503_not_a_500(tmp_path):
    """With every database connection taken, the tablet is told to retry."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    from server.api import create_app
    from server.runner import BackgroundServer
    from server.store import open_engine

    base = open_engine(tmp_path / "pool.db")
    tight = create_engine(base.url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.2)
    held = tight.connect()  # the only connection, kept busy
    app = create_app(tight)
    server = BackgroundServer(app)
    server.start()
    try:
        answer = requests.post(f"{server.url}/api/v1/pair/device-code", json={"device_id": "x"}, timeout=10)
        assert answer.status_code == 503, answer.text
        # As long as the server's own database wait (server.limits), at least a second.
        assert answer.headers.get("Retry-After") == str(app.state.limits.retry_after_s)
        assert int(answer.headers["Retry-After"]) >= 1
    finally:
        held.close()
        server.stop()
        tight.dispose()
        base.dispose()
