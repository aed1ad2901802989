"""Honest time end to end: a tablet whose clock is days off, and one whose
clock jumps during a boot, get correct times on the server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kiosk.desk import DeviceClock
from kiosk.store import local_now
from server.store import tables
from tests.sync_support import Commune, Tablet

THREE_DAYS = timedelta(days=3)


def server_rows(commune: Commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.records).order_by(tables.records.c.seq)).mappings()]


def corrected(row: dict) -> datetime:
    return datetime.fromisoformat(row["corrected_time"])


def test_tablet_three_days_behind_gets_the_real_time(tmp_path):
    with Commune(tmp_path, clock_threshold_s=300) as commune:
        clock = DeviceClock(now=lambda: local_now() - THREE_DAYS)
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=clock)
        tablet.pair(commune)
        real_start = datetime.now(UTC)
        tablet.rate(20)
        time.sleep(0.5)  # the batch leaves a little after the taps
        tablet.uploader().run_once()
        real_end = datetime.now(UTC)
        rows = server_rows(commune)
        assert len(rows) == 20
        for row in rows:
            assert row["time_method"] == "monotonic"
            assert real_start - timedelta(seconds=1) <= corrected(row) <= real_end
            device = datetime.fromisoformat(row["device_time"])
            assert abs((real_start - device) - THREE_DAYS) < timedelta(seconds=5)  # original kept as it was
            assert "clock_off" in row["flags"].split()
        health = commune.registry.health()[0]
        assert abs(health["clock_offset_s"] - THREE_DAYS.total_seconds()) < 5
        assert health["clock_off"] is True
        tablet.close()


class SteeredClock:
    """A wall clock a test can move, over the real monotonic clock."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def now(self) -> datetime:
        return local_now() + self.shift


def test_clock_jump_within_a_boot_does_not_fool_the_server(tmp_path):
    with Commune(tmp_path) as commune:
        steer = SteeredClock()
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=DeviceClock(now=steer.now))
        tablet.pair(commune)
        before_jump = datetime.now(UTC)
        tablet.rate(5)
        steer.shift = timedelta(hours=2)  # someone sets the clock two hours ahead mid-day
        tablet.rate(5)
        after = datetime.now(UTC)
        tablet.uploader().run_once()
        rows = server_rows(commune)
        assert len(rows) == 10
        for row in rows:
            assert row["time_method"] == "monotonic"
            assert before_jump - timedelta(seconds=1) <= corrected(row) <= after + timedelta(seconds=1)
        # The device times say otherwise: the second half claims to be two hours later.
        jump = datetime.fromisoformat(rows[5]["device_time"]) - datetime.fromisoformat(rows[4]["device_time"])
        assert jump > timedelta(hours=1, minutes=59)
        assert abs(commune.registry.health()[0]["clock_offset_s"] + 7200) < 5
        # Corrected times keep the order the taps were made in.
        assert [corrected(r) for r in rows] == sorted(corrected(r) for r in rows)
        tablet.close()


def test_records_of_an_earlier_boot_are_shifted_by_the_offset(tmp_path):
    with Commune(tmp_path) as commune:
        boot = {"id": "boot-before-restart"}
        clock = DeviceClock(now=lambda: local_now() - timedelta(hours=1), boot=lambda: boot["id"])
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=clock)
        tablet.pair(commune)
        tablet.rate(3)  # taken offline in a boot that never talked to the server
        boot["id"] = "boot-after-restart"
        tablet.uploader().run_once()
        rows = server_rows(commune)
        assert {r["time_method"] for r in rows} == {"offset"}
        for row in rows:
            assert abs(row["clock_offset_s"] - 3600) < 5
        tablet.close()
