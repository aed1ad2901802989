"""The uploader against the real server on loopback: exactly once, resumable,
never blocking, reporting its state."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from kiosk.link.uploader import SyncStatus
from server.store import tables as db
from sync.protocol import API_PREFIX
from sync.record import verify_chain
from tests.sync_support import FaultProxy, Tablet, server_records, wait_for
from tests.web.support import logged_in_admin

ROOT = Path(__file__).resolve().parents[1]


def test_records_arrive_exactly_once_in_order_with_an_intact_chain(commune, tablet):
    made = tablet.rate(250)
    tablet.desk.add_details(made[0], ["waited_long"])
    status = tablet.uploader(batch_size=40).run_once()
    assert status.state == "idle" and status.pending == 0
    assert tablet.store.pending_count() == 0
    received = server_records(commune, tablet.store.device_id)
    assert [r.uuid for r in received] == [r.uuid for r in tablet.store.records()]
    assert verify_chain(received) == []
    health = commune.registry.health(tablet.store.device_id)[0]
    assert health["chain_status"] == "intact" and health["records_count"] == 251 and health["pending_count"] == 0
    # A second pass sends nothing more.
    assert tablet.uploader().run_once().sent_this_session == 0
    assert len(server_records(commune, tablet.store.device_id)) == 251


def test_background_thread_never_blocks_and_reports_status(commune, tablet):
    seen: list[SyncStatus] = []
    uploader = tablet.uploader(batch_size=50, on_status=seen.append)
    started = time.perf_counter()
    uploader.start()
    assert time.perf_counter() - started < 0.05  # start() returns at once
    calling_thread = threading.get_ident()
    threads: set[int] = set()
    uploader.on_status = lambda s: (seen.append(s), threads.add(threading.get_ident()))
    tablet.rate(120)  # taps keep being written while the uploader runs
    uploader.sync_now()
    # All 120 taps acknowledged (an early "idle" from before the taps does not count).
    assert wait_for(lambda: tablet.store.pending_count() == 0 and seen[-1].state == "idle", timeout=20)
    assert uploader.stop(timeout=5)
    assert calling_thread not in threads
    assert seen[-1].state == "stopped"
    assert {s.state for s in seen} >= {"sending", "idle"}
    assert any(s.last_success for s in seen)
    assert len(server_records(commune, tablet.store.device_id)) == 120


def test_resumes_after_a_restart_without_resending_what_was_acknowledged(commune, tablet):
    tablet.rate(300)
    # The link dies after the first batch; the uploader gives up (the tablet "powers off").
    with FaultProxy(commune.server.port, failure_rate=1.0, faults=("drop",), script=["ok"]) as proxy:
        first = tablet.uploader(batch_size=100)
        first.server_url = proxy.url
        assert first.run_once(max_attempts=1).pending == 200
    # A fresh uploader, with its own store on the same database, carries on.
    status = tablet.uploader(batch_size=100).run_once()
    assert status.pending == 0 and status.sent_this_session == 200
    with commune.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(db.records)).scalar() == 300
    assert [a["seq"] for a in tablet.store.acks()] == list(range(1, 301))


def test_a_resent_batch_is_answered_from_the_idempotency_cache(commune, tablet, tmp_path):
    tablet.rate(30)
    with FaultProxy(commune.server.port, failure_rate=1.0, faults=("lose-answer",)) as proxy:
        uploader = tablet.uploader(batch_size=30)
        uploader.server_url = proxy.url
        status = uploader.run_once(max_attempts=2)
        assert status.pending == 30  # the server stored them; the tablet never heard
    status = tablet.uploader(batch_size=30).run_once()
    assert status.pending == 0
    assert len(server_records(commune, tablet.store.device_id)) == 30
    assert {a["status"] for a in tablet.store.acks()} == {"stored"}  # the first answer, replayed


def test_retry_after_is_honoured(commune, tablet):
    tablet.rate(5)
    with FaultProxy(commune.server.port, failure_rate=0.0, script=["503-retry-1"]) as proxy:
        uploader = tablet.uploader()
        uploader.server_url = proxy.url
        waits = []
        uploader.on_status = lambda s: s.state == "backing_off" and waits.append(s.next_attempt_in_s)
        started = time.monotonic()
        status = uploader.run_once()
        elapsed = time.monotonic() - started
    assert status.pending == 0
    assert waits and waits[0] >= 1.0  # the backoff alone would have waited milliseconds
    assert elapsed >= 1.0


def test_once_command_exits_non_zero_when_records_are_left(tmp_path, commune, tablet):
    tablet.rate(12)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "kiosk.link", "--config", str(tablet.config_path), "--once"],
                        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "left: 0" in ok.stdout
    tablet.rate(3)
    tree_path = tablet.config_path
    text = tree_path.read_text(encoding="utf-8").replace(commune.url, "http://127.0.0.1:9")
    tree_path.write_text(text, encoding="utf-8")
    left = subprocess.run([sys.executable, "-m", "kiosk.link", "--config", str(tree_path), "--once", "--attempts", "1"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert left.returncode == 1
    assert "left: 3" in left.stdout


def test_unpaired_tablet_reports_unpaired_and_keeps_its_records(tmp_path, commune):
    t = Tablet(tmp_path / "lonely", commune.url)
    t.rate(3)
    status = t.uploader().run_once()
    assert status.state == "unpaired" and status.pending == 3
    t.close()


def test_health_endpoint_lists_the_device(commune, tablet):
    tablet.rate(3)
    tablet.uploader().run_once()
    admin = logged_in_admin(commune)
    answer = admin.get(f"{commune.url}{API_PREFIX}/devices/{tablet.store.device_id}", timeout=5).json()
    assert answer["records_count"] == 3 and answer["last_seen_at"] and answer["app_version"] == "0.1.0"
    assert answer["chain_status"] == "intact" and answer["clock_off"] is False
