"""``python -m kiosk.simulate --days N`` and ``python -m kiosk.export --out FILE``,
run as commands on a real config and a real SQLite file."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kiosk import export, simulate
from kiosk.config import WEEKDAYS, WorkingHours, load_settings
from kiosk.export import COLUMNS
from kiosk.store import Store
from tests.conftest import ROOT, write_config

MORNING = (time(7, 30), time(11, 30))
AFTERNOON = (time(13, 30), time(17, 0))
HOURS = WorkingHours(
    enforce=True,
    sessions={**{day: (MORNING, AFTERNOON) for day in WEEKDAYS[:5]}, "sat": (MORNING,)},
)


def _inside(hours: WorkingHours, moment: datetime) -> bool:
    spans = hours.sessions.get(WEEKDAYS[moment.weekday()], ())
    return any(start <= moment.time() <= end for start, end in spans)


def test_spread_times_fall_inside_working_sessions_over_the_asked_days():
    now = datetime(2026, 12, 2, 9, 10).astimezone()  # a Wednesday morning
    moments = simulate.spread_times(HOURS, 10, 400, random.Random(1), now)
    assert len(moments) == 400
    assert moments == sorted(moments)
    assert all(_inside(HOURS, m) for m in moments)
    assert all(m <= now for m in moments)
    days = sorted({m.date() for m in moments})
    # Ten working days back from Wednesday 2 December, Sundays left out.
    assert len(days) == 10 and all(d.weekday() != 6 for d in days)
    assert days[0] == datetime(2026, 11, 21).date() and days[-1] == now.date()
    # Not all at once: citizens at least 40 s apart, mornings busier than afternoons.
    assert all(b - a >= simulate.MIN_GAP for a, b in zip(moments, moments[1:]))
    mornings = sum(1 for m in moments if m.hour < 12)
    assert mornings > len(moments) - mornings


def test_spread_times_use_weekdays_office_hours_when_none_are_set():
    hours = WorkingHours(enforce=False, sessions={})
    now = datetime(2026, 12, 6, 12, 0).astimezone()  # a Sunday
    moments = simulate.spread_times(hours, 5, 50, random.Random(2), now)
    assert {m.weekday() for m in moments} <= {0, 1, 2, 3, 4}
    assert len({m.date() for m in moments}) == 5


def _run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def config(tmp_path: Path, demo_tree: dict) -> Path:
    return write_config(tmp_path, demo_tree)


def test_simulate_days_records_ratings_on_past_working_days_without_bursts(config: Path):
    done = _run("kiosk.simulate", "--config", str(config), "--count", "120", "--days", "6", "--seed", "4",
                "--quiet", cwd=config.parent)
    assert done.returncode == 0, done.stderr
    settings = load_settings(config)
    store = Store(settings.database)
    try:
        ratings = store.ratings()
        assert store.verify() == []
    finally:
        store.close()
    assert len(ratings) == 120 and all(r.simulated for r in ratings)
    times = [datetime.fromisoformat(r.device_time) for r in ratings]
    assert times == sorted(times)
    assert len({t.date() for t in times}) == 6, "six working days"
    assert all(_inside(settings.working_hours, t) for t in times)
    # A simulated day, not a burst of taps: nothing is flagged, and the summary says where they went.
    assert sum(r.burst for r in ratings) == 0
    assert "spread over 6 working days" in done.stdout


def test_simulate_days_refuses_an_interval(config: Path):
    done = _run("kiosk.simulate", "--config", str(config), "--days", "3", "--interval", "1", cwd=config.parent)
    assert done.returncode == 2 and "--interval" in done.stderr


def test_export_command_writes_one_csv_and_one_xlsx_with_every_rating(config: Path, tmp_path: Path):
    assert _run("kiosk.simulate", "--config", str(config), "--count", "37", "--days", "3", "--quiet",
                cwd=config.parent).returncode == 0
    csv_file, xlsx_file = tmp_path / "out" / "ratings.csv", tmp_path / "out" / "ratings.xlsx"
    csv_file.parent.mkdir()
    done = _run("kiosk.export", "--config", str(config), "--out", str(csv_file), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"exported 37 ratings to {csv_file}" in done.stdout
    rows = list(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 + 37
    assert rows[0][0] == "Số thứ tự"
    simulated = COLUMNS.index("simulated")
    assert Counter(r[simulated] for r in rows[1:]) == Counter({"1": 37})  # every row flagged simulated
    assert csv_file.stat().st_mode & 0o077 == 0, "owner-only"

    done = _run("kiosk.export", "--config", str(config), "--out", str(xlsx_file), "--format", "xlsx",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sheet = load_workbook(xlsx_file, read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 1 + 37
    # Only the two files: the temporary folder is gone.
    assert sorted(p.name for p in csv_file.parent.iterdir()) == ["ratings.csv", "ratings.xlsx"]


def test_export_command_refuses_to_overwrite_or_mix_formats(config: Path, tmp_path: Path):
    target = tmp_path / "x.csv"
    target.write_text("keep me")
    out, err = io.StringIO(), io.StringIO()
    assert export.main(["--config", str(config), "--out", str(target)], out=out, err=err) == 2
    assert target.read_text() == "keep me" and "exists" in err.getvalue()
    err = io.StringIO()
    assert export.main(["--config", str(config), "--out", str(tmp_path / "y.csv"), "--format", "xlsx"],
                       out=out, err=err) == 2
    # No database yet: the reason in both languages, status 1.
    err = io.StringIO()
    assert export.main(["--config", str(config), "--out", str(tmp_path / "z.csv")], out=out, err=err) == 1
    assert "export failed" in err.getvalue() and "no database" in err.getvalue()


def test_a_day_spread_starts_no_earlier_than_the_days_asked(config: Path):
    now = datetime.now().astimezone()
    moments = simulate.spread_times(load_settings(config).working_hours, 2, 10, random.Random(5), now)
    assert moments and now - moments[0] < timedelta(days=10)
