"""Backing up the commune server's SQLite database while it serves, and
restoring it: real files, a real server, a real tablet uploading."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.link.uploader import Uploader
from server.api import create_app
from server.backup import BackupError, DatabaseInUse, backup_database, restore_database
from server.registry import DeviceRegistry
from server.runner import BackgroundServer
from server.store import open_engine, tables
from tests.sync_support import Commune, Tablet, fast_backoff, sqlite_only

ROOT = Path(__file__).resolve().parents[1]

pytestmark = sqlite_only


def table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table of a SQLite file, in a stable order."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    finally:
        conn.close()


def integrity(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def snapshot_is_consistent(path: Path) -> int:
    """The number of ratings in a backup, after checking that the copy holds
    whole batches: the device's chain head and count match its records."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM records ORDER BY seq")]
        head_seq, count = conn.execute("SELECT head_seq, records_count FROM devices").fetchone()
    finally:
        conn.close()
    assert seqs == list(range(1, len(seqs) + 1))
    assert head_seq == count == len(seqs)
    return len(seqs)


@pytest.mark.slow  # a real server, a tablet uploading in the background, many backups
def test_backup_while_the_server_ingests_then_restore_serves_the_same_health(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        total = 400
        tablet.rate(total)
        # Small batches: many separate commits while the backups run.
        uploader = Uploader(tablet.db_path, commune.url, batch_size=4, backoff=fast_backoff(),
                            timeout=(2.0, 5.0), clock=tablet.clock)
        writer = threading.Thread(target=uploader.run_once, name="tablet-upload")
        writer.start()
        counts = []
        while writer.is_alive():
            copy = backup_database(commune.db_path, tmp_path / "backups" / "commune.db")
            assert integrity(copy.path) == ["ok"]
            counts.append(snapshot_is_consistent(copy.path))
            assert copy.ratings == counts[-1]
        writer.join()
        assert any(0 < n < total for n in counts), f"no backup was taken mid-upload: {counts}"
        assert counts == sorted(counts)

        final = backup_database(commune.db_path, tmp_path / "backups" / "commune.db")
        assert final.ratings == total and final.devices == 1
        # Only the backup is left: no temporary file, no -wal beside it.
        assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == ["commune.db"]
        assert (final.path.stat().st_mode & 0o777) == 0o600
        original_health = commune.registry.health()
        original_rows = table_rows(Path(commune.db_path))

    restored_path = tmp_path / "restored" / "commune.db"
    result = restore_database(restored_path, final.path)
    assert result.replaced_kept_at is None and result.snapshot.ratings == total
    assert integrity(restored_path) == ["ok"]
    assert table_rows(restored_path) == original_rows

    # A server started on the restored file knows the tablet: the same
    # health, and the tablet's next ratings continue its chain there.
    engine = open_engine(restored_path)
    try:
        registry = DeviceRegistry(engine)
        assert registry.health() == original_health
        with BackgroundServer(create_app(engine, pair_interval_s=0)) as server:
            tablet.rate(3)
            status = Uploader(tablet.db_path, server.url, backoff=fast_backoff(), timeout=(2.0, 5.0),
                              clock=tablet.clock).run_once()
            assert status.pending == 0, status
        after = registry.health()[0]
        assert after["records_count"] == total + 3 and after["findings_count"] == 0
        assert after["chain_status"] == original_health[0]["chain_status"]
    finally:
        engine.dispose()
        tablet.close()


def make_database(path: Path, devices: int = 0) -> Path:
    """A server database with ``devices`` paired-looking device rows, closed."""
    engine = open_engine(path)
    try:
        with engine.begin() as conn:
            for i in range(devices):
                conn.execute(tables.devices.insert().values(
                    device_id=f"device-{i}", secret="s" * 64, status="active", head_hash="0" * 64))
    finally:
        engine.dispose()
    return path


def test_restore_refuses_a_corrupt_backup_and_leaves_the_database_alone(tmp_path):
    db = make_database(tmp_path / "commune.db", devices=2)
    good = backup_database(db, tmp_path / "good.db")
    before = table_rows(db)

    damaged = tmp_path / "damaged.db"
    data = bytearray(good.path.read_bytes())
    page = 4096
    # Overwrite the middle pages (b-tree pages of the tables) with noise.
    data[page * 2: page * 6] = os.urandom(page * 4)
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="integrity|damaged|malformed"):
        restore_database(db, damaged, force=True)

    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("ceci n'est pas une base\n" * 500)
    with pytest.raises(BackupError, match="damaged or not a database|cannot be opened"):
        restore_database(db, not_a_database, force=True)

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.close()
    with pytest.raises(BackupError, match="not a commune server database"):
        restore_database(db, other, force=True)

    assert table_rows(db) == before
    assert not list(tmp_path.glob("commune.db.replaced-*"))
    assert not list(tmp_path.glob(".commune.db.*.tmp"))


def test_restore_needs_force_over_an_existing_database_and_keeps_it(tmp_path):
    db = make_database(tmp_path / "commune.db", devices=1)
    backup = backup_database(db, tmp_path / "backup.db")
    # The live database moves on after the backup (in its WAL, not yet checkpointed).
    engine = open_engine(db)
    with engine.begin() as conn:
        conn.execute(tables.devices.insert().values(
            device_id="later", secret="s" * 64, status="active", head_hash="0" * 64))
    engine.dispose()

    with pytest.raises(BackupError, match="--force"):
        restore_database(db, backup.path)
    restored = restore_database(db, backup.path, force=True)
    assert restored.snapshot.devices == 1
    kept = restored.replaced_kept_at
    assert kept is not None and kept.name.startswith("commune.db.replaced-")
    # The kept file is whole on its own: its WAL was folded in before it moved.
    assert not Path(f"{kept}-wal").exists()
    assert {row[0] for row in table_rows(kept)["devices"]} == {"device-0", "later"}
    assert {row[0] for row in table_rows(db)["devices"]} == {"device-0"}


def test_restore_refuses_a_database_a_running_server_holds_open(tmp_path):
    with Commune(tmp_path) as commune:
        backup = backup_database(commune.db_path, tmp_path / "backup.db")
        with pytest.raises(DatabaseInUse, match="stop it first"):
            restore_database(commune.db_path, backup.path, force=True)
        # Still serving its own database, untouched.
        assert commune.registry.health() == []
    assert not list(Path(commune.db_path).parent.glob("*.replaced-*"))


def test_postgresql_is_refused_with_its_own_tools_named(tmp_path):
    url = "postgresql+psycopg://hailong:s3cret@db-host/hailong"
    with pytest.raises(BackupError, match="pg_dump") as caught:
        backup_database(url, tmp_path / "out.db")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(BackupError, match="pg_restore"):
        restore_database(url, make_database(tmp_path / "x.db"), force=True)


def test_backup_of_a_missing_database_creates_nothing(tmp_path):
    with pytest.raises(BackupError, match="no such database"):
        backup_database(tmp_path / "typo.db", tmp_path / "out.db")
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.slow  # real subprocesses (the technician's commands)
def test_backup_and_restore_commands_print_what_they_did(tmp_path):
    db = make_database(tmp_path / "commune.db", devices=3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=60)

    out = tmp_path / "backups" / "daily.db"
    backed_up = run("backup", "--db", str(db), "--out", str(out))
    assert backed_up.returncode == 0, backed_up.stderr
    assert f"backup written: {out}" in backed_up.stdout and "3 devices" in backed_up.stdout
    assert "integrity ok" in backed_up.stdout

    refused = run("restore", "--db", str(db), "--from", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr
    restored = run("restore", "--db", str(tmp_path / "new" / "commune.db"), "--from", str(out))
    assert restored.returncode == 0, restored.stderr
    assert "restored:" in restored.stdout and "3 devices" in restored.stdout

    pg = run("backup", "--db", "postgresql+psycopg://u@h/hailong", "--out", str(tmp_path / "x"))
    assert pg.returncode == 2 and "pg_dump" in pg.stderr
