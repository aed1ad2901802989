"""The technician's commands: devices, export, roster import."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.desk import DeviceClock
from kiosk.store import local_now
from tests.sync_support import Commune, Tablet

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=60)


@pytest.mark.slow  # real subprocesses (the technician's commands)
def test_devices_and_export_show_health_flags_findings_and_both_times(tmp_path):
    with Commune(tmp_path) as commune:
        clock = DeviceClock(now=lambda: local_now() - timedelta(days=3))
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=clock)
        tablet.pair(commune)
        made = tablet.rate(6)
        tablet.desk.add_details(made[0], ["waited_long", "come_back"], "0912345678", consent=True)
        conn = tablet.store.db.conn
        conn.execute("DROP TRIGGER journal_no_delete")
        conn.execute("DELETE FROM journal WHERE seq = 3")
        tablet.uploader().run_once()

        devices = run("devices", "--db", str(commune.db_path))
        assert devices.returncode == 0, devices.stderr
        assert tablet.store.device_id in devices.stdout
        assert "CLOCK OFF" in devices.stdout and "chain: flagged" in devices.stdout
        assert "seq 3: gap" in devices.stdout and "app: 0.1.0" in devices.stdout
        as_json = json.loads(run("devices", "--db", str(commune.db_path), "--json").stdout)
        assert as_json[0]["pending_count"] == 0 and as_json[0]["clock_off"] is True

        out = tmp_path / "ratings.csv"
        exported = run("export", "--db", str(commune.db_path), "--format", "csv", "--out", str(out))
        assert exported.returncode == 0, exported.stderr
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert [int(r["seq"]) for r in rows] == [1, 2, 4, 5, 6]
        first = rows[0]
        assert first["reasons"] == "waited_long come_back" and first["callback_requested"] == "yes"
        assert first["device_time"] != first["corrected_time"] and first["time_method"] == "monotonic"
        assert "clock_off" in first["flags"]
        assert "after_gap" in rows[2]["flags"]
        tablet.close()


@pytest.mark.slow  # a real subprocess
def test_roster_import_refuses_a_broken_file_with_the_key(tmp_path):
    bad = tmp_path / "roster.yaml"
    bad.write_text("commune: {name: X}\ncounters: [{id: quay-1, name: Q}]\n"
                   "officers: [{id: Bad Id, name: A, title: B}]\n",
                   encoding="utf-8")
    result = run("roster", "--db", str(tmp_path / "s.db"), "--from", str(bad))
    assert result.returncode == 2
    assert "officers[0].id" in result.stderr
