"""The technician's health page: disk, database size, chain check, version,
pending records, audit and the end of the newest log file."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from kiosk import __version__
from kiosk.config import Settings, load_settings
from kiosk.desk import RatingDesk
from kiosk.health import LOG_TAIL_BYTES, device_health, human_bytes, recent_log_lines
from kiosk.store import Store
from tests.conftest import write_config


@pytest.fixture
def settings(tmp_path: Path, demo_tree: dict) -> Settings:
    demo_tree["attribution"] = {"mode": "choose"}
    demo_tree["working_hours"]["enforce"] = False
    return load_settings(write_config(tmp_path, demo_tree))


@pytest.fixture
def store(settings: Settings):
    s = Store(settings.database)
    yield s
    s.close()


def test_health_of_a_working_tablet(settings: Settings, store: Store) -> None:
    desk = RatingDesk(settings, store)
    for score in (3, 1, 2):
        record = desk.rate("nguyen-thi-lan", score)
    desk.add_details(record, ("waited_long",))
    store.audit("pin_lockout", actor="technician", detail={"seconds": 60})

    health = device_health(store, settings, None)
    assert health.app_version == __version__
    assert health.records == 4 == store.count()
    assert health.ratings == 3
    assert health.chain_findings == [] and health.chain_ok
    assert health.pending == store.pending_count() == 4
    assert health.device_id == store.device_id
    wal = Path(f"{store.path}-wal")
    assert health.database_bytes == store.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert health.database_bytes > 0
    assert 0 < health.free_disk_bytes <= os.statvfs(store.path.parent).f_blocks * os.statvfs(store.path.parent).f_frsize
    # The lock-out is in the audit log the page shows, newest first.
    assert health.recent_audit[0]["action"] == "pin_lockout"
    assert health.log_lines == []


def test_a_broken_chain_is_reported(settings: Settings, store: Store) -> None:
    desk = RatingDesk(settings, store)
    for _ in range(3):
        desk.rate("tran-van-hung", 3)
    # Someone with the file edits a rating behind the app's back.
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET score = 1, level = 'dissatisfied' WHERE seq = 2")
    conn.close()
    health = device_health(store, settings, None)
    assert not health.chain_ok
    assert [(f.seq, f.problem) for f in health.chain_findings] == [(2, "bad_hash")]


def test_recent_log_lines_reads_the_newest_file(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    old = logs / "kivy_26-03-11_0.txt"
    old.write_text("old line\n", encoding="utf-8")
    new = logs / "kivy_26-03-12_0.txt"
    new.write_text("".join(f"[INFO   ] line {i} — Nguyễn\n" for i in range(120)), encoding="utf-8")
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    lines = recent_log_lines(logs, n=50)
    assert len(lines) == 50
    assert lines[0] == "[INFO   ] line 70 — Nguyễn"
    assert lines[-1] == "[INFO   ] line 119 — Nguyễn"
    assert recent_log_lines(logs, n=500)[0] == "[INFO   ] line 0 — Nguyễn"


def test_recent_log_lines_of_a_long_log_reads_only_its_end(tmp_path: Path) -> None:
    log = tmp_path / "kivy.txt"
    line = "x" * 99 + "\n"
    with open(log, "w", encoding="utf-8") as fh:
        for i in range(3 * LOG_TAIL_BYTES // len(line)):
            fh.write(line)
        fh.write("the last one\n")
    lines = recent_log_lines(tmp_path, n=10)
    assert lines[-1] == "the last one"
    assert lines[:-1] == ["x" * 99] * 9  # no half line at the start of the window


def test_recent_log_lines_never_raises(tmp_path: Path) -> None:
    assert recent_log_lines(None) == []
    assert recent_log_lines(tmp_path / "absent") == []
    assert recent_log_lines(tmp_path) == []  # an empty folder
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe broken bytes\n")
    lines = recent_log_lines(tmp_path)
    assert lines[0] == "ok" and "broken bytes" in lines[1]


def test_health_includes_the_log(settings: Settings, store: Store, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kivy_1.txt").write_text("[INFO] Kiosk: started\n", encoding="utf-8")
    assert device_health(store, settings, logs).log_lines == ["[INFO] Kiosk: started"]


@pytest.mark.parametrize(
    ("n", "vi", "en"),
    [
        (0, "0 B", "0 B"),
        (512, "512 B", "512 B"),
        (1536, "1,5 KB", "1.5 KB"),
        (20 * 1024 * 1024, "20 MB", "20 MB"),
        (int(3.25 * 1024**3), "3,2 GB", "3.2 GB"),
        (-5, "0 B", "0 B"),
    ],
)
def test_human_bytes(n: int, vi: str, en: str) -> None:
    assert human_bytes(n, "vi") == vi
    assert human_bytes(n, "en") == en
