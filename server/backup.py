"""Backing up and restoring the server's SQLite database.

A backup is taken with SQLite's online backup API while the server keeps
running: the database is in WAL mode, so the copy reads one consistent
snapshot and the server's writers are not held up. The copy is written to a
temporary file beside the target, checked (``PRAGMA integrity_check``) and
only then renamed into place, so a backup file is either whole or absent.

A restore checks the backup first, refuses a database a running server holds
open, and keeps the file it replaces beside it.

PostgreSQL has its own tools (``pg_dump`` / ``pg_restore``); both functions
refuse a PostgreSQL URL with a message that says so.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["BackupError", "DatabaseInUse", "Snapshot", "Restored", "backup_database", "restore_database"]

# Tables a commune server database always has: a file without them is not one.
_REQUIRED_TABLES = ("devices", "records")

_POSTGRES_ADVICE = (
    "this is not a SQLite file. For PostgreSQL use its own tools: "
    "pg_dump --format=custom --file=FILE DBNAME to back up, "
    "pg_restore --clean --if-exists --dbname=DBNAME FILE to restore "
    "(see docs/server-install.md)"
)


class BackupError(Exception):
    """A backup or restore that was refused or failed; the message says why."""


class DatabaseInUse(BackupError):
    """The database to replace is open in another connection (a running server)."""


@dataclass(frozen=True)
class Snapshot:
    """What a checked database file holds."""

    path: Path
    size_bytes: int
    devices: int
    ratings: int


@dataclass(frozen=True)
class Restored:
    """The outcome of a restore: what is now in place, and where the replaced file went."""

    snapshot: Snapshot
    replaced_kept_at: Path | None


def _sqlite_file(db: str | Path) -> Path:
    """The SQLite file of ``--db``; a URL other than ``sqlite:///`` is refused."""
    text = str(db)
    if "://" in text:
        if not text.startswith("sqlite:///") or text in ("sqlite:///", "sqlite:///:memory:"):
            raise BackupError(f"{_redact(text)}: {_POSTGRES_ADVICE}")
        text = text[len("sqlite:///"):]
    return Path(text).expanduser().resolve()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _check(path: Path) -> Snapshot:
    """Integrity-check a database file opened read-only and count what it holds.

    Raises BackupError if the file is damaged or is not a server database."""
    # immutable=1: the file is not being written (a backup, or a fresh copy
    # not yet renamed into place), so no lock or -shm file is needed.
    uri = f"{path.as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot be opened: {exc}") from exc
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"{path}: failed its integrity check: {'; '.join(problems[:5])}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in _REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupError(f"{path}: not a commune server database (no {', '.join(missing)} table)")
        devices = conn.execute("SELECT count(*) FROM devices").fetchone()[0]
        ratings = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
        raise BackupError(f"{path}: damaged or not a database: {exc}") from exc
    finally:
        conn.close()
    return Snapshot(path=path, size_bytes=path.stat().st_size, devices=devices, ratings=ratings)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` survive a power cut."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_into_temporary(source: sqlite3.Connection, directory: Path, stem: str) -> Path:
    """Copy ``source`` with the backup API into a new private file in ``directory``.

    The copy is one self-contained file (rollback journal, no -wal beside
    it) that is fsynced before it is returned."""
    # mkstemp creates the file 0600: the copy holds every device's secret.
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        target = sqlite3.connect(temporary, isolation_level=None)
        try:
            # All pages in one step: a step-by-step copy starts over whenever
            # the server commits in between, and a busy server would keep it
            # from ever finishing. In WAL mode the one step reads a snapshot
            # and the server's writers carry on meanwhile.
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
        with open(temporary, "rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def backup_database(db: str | Path, out: str | Path) -> Snapshot:
    """Copy the live database ``db`` to ``out``, safely while the server runs.

    ``out`` is replaced atomically once the copy has passed its integrity
    check; a failed backup leaves no file behind."""
    source_path = _sqlite_file(db)
    if not source_path.is_file():
        raise BackupError(f"{source_path}: no such database file")
    out_path = Path(out).expanduser().resolve()
    if out_path == source_path:
        raise BackupError("the backup file must not be the database itself")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Opened read-write only because a WAL database's readers share its -shm
    # index; nothing is written to it. The timeout waits out a checkpoint.
    source = sqlite3.connect(source_path, timeout=30, isolation_level=None)
    try:
        temporary = _copy_into_temporary(source, out_path.parent, out_path.name)
    except sqlite3.Error as exc:
        raise BackupError(f"{source_path}: backup failed: {exc}") from exc
    finally:
        source.close()
    try:
        _check(temporary)
        os.replace(temporary, out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(out_path.parent)
    return _check(out_path)


def _take_over(target: Path) -> None:
    """Make sure no one else has ``target`` open, and fold its WAL into it.

    Leaving WAL mode needs the database to itself: it fails at once with
    "database is locked" while any other connection (a running server's
    pool keeps some open even when idle) has the file open. When it works,
    SQLite has checkpointed the WAL into the main file and removed it, so
    the one file holds everything and can be moved aside whole."""
    conn = sqlite3.connect(target, timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseInUse(
                f"{target} is in use (is the server running? stop it first: sudo systemctl stop hailong-server)"
            ) from exc
        raise
    finally:
        conn.close()


def restore_database(db: str | Path, source: str | Path, *, force: bool = False,
                     now: datetime | None = None) -> Restored:
    """Put the backup ``source`` in place as the database ``db``.

    The backup must pass its integrity check. An existing database is only
    replaced with ``force``, never while a server holds it open, and is kept
    beside it as ``NAME.replaced-YYYYMMDD-HHMMSS`` (its -wal folded in)."""
    target = _sqlite_file(db)
    backup_path = Path(source).expanduser().resolve()
    if not backup_path.is_file():
        raise BackupError(f"{backup_path}: no such backup file")
    if backup_path == target:
        raise BackupError("the backup file is the database itself")
    _check(backup_path)

    companions = [Path(f"{target}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    exists = target.exists() or any(p.exists() for p in companions)
    if exists and not force:
        raise BackupError(f"{target} already exists; add --force to replace it (it is kept beside it)")
    target.parent.mkdir(parents=True, exist_ok=True)

    if target.exists():
        try:
            _take_over(target)
        except sqlite3.DatabaseError:
            pass  # a damaged database: it is moved aside as it is, companions and all

    # The copy is made and checked before anything is moved: a failure here
    # leaves the current database where it was.
    reader = sqlite3.connect(f"{backup_path.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        temporary = _copy_into_temporary(reader, target.parent, target.name)
    finally:
        reader.close()
    kept: Path | None = None
    try:
        _check(temporary)
        if exists:
            stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
            kept = target.with_name(f"{target.name}.replaced-{stamp}")
            for suffix in ("", "-wal", "-shm", "-journal"):
                current = Path(f"{target}{suffix}")
                if current.exists():
                    os.replace(current, Path(f"{kept}{suffix}"))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return Restored(snapshot=_check(target), replaced_kept_at=kept)
