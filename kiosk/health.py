"""The tablet's health, for the technician: disk, database, chain, version, log.

:func:`device_health` reads everything the technician's "Health" page shows
in one call. Checking the chain re-hashes every record (about a second per
hundred thousand on a modest tablet), so call it on a worker thread with a
:class:`~kiosk.store.Store` opened on that thread, not in a Kivy frame.
Nothing here imports Kivy.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk import __version__
from kiosk.i18n import current_language
from sync.record import KIND_RATING, ChainFinding

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.store import Store

__all__ = ["Health", "device_health", "human_bytes", "recent_log_lines", "LOG_TAIL_BYTES"]

LOG_TAIL_BYTES = 256 * 1024
"""How much of the end of a log file is read for its last lines: enough for
hundreds of lines, while a log that grew for weeks is never read whole."""

RECENT_AUDIT = 20


@dataclass(frozen=True)
class Health:
    """What the technician's "Health" page shows."""

    free_disk_bytes: int
    """Free space on the drive that holds the database."""
    database_bytes: int
    """The database file plus its write-ahead log (the log holds the latest
    commits until SQLite folds them into the file)."""
    chain_findings: list[ChainFinding]
    """What is wrong with the record chain; empty when it is intact."""
    app_version: str
    records: int
    """Records in the journal (ratings and details)."""
    ratings: int
    pending: int | None
    """Records not yet acknowledged by the commune server; ``None`` when this
    store has no outbox."""
    device_id: str
    recent_audit: list[dict] = field(default_factory=list)
    """The latest privileged actions (sign-ins, PIN lock-outs...), newest first."""
    log_lines: list[str] = field(default_factory=list)
    """The end of the newest log file (see :func:`recent_log_lines`)."""

    @property
    def chain_ok(self) -> bool:
        return not self.chain_findings


def device_health(store: Store, settings: Settings, log_dir: Path | None) -> Health:
    """Gather the tablet's health: ``settings`` names the database's folder,
    ``log_dir`` the folder of log files (``None``: no log lines)."""
    folder = Path(settings.database).parent if settings is not None else store.path.parent
    if not folder.exists():
        folder = store.path.parent
    pending_count = getattr(store, "pending_count", None)
    return Health(
        free_disk_bytes=shutil.disk_usage(folder).free,
        database_bytes=sum(_size(Path(f"{store.path}{suffix}")) for suffix in ("", "-wal")),
        chain_findings=store.verify(),
        app_version=__version__,
        records=store.count(),
        ratings=store.count(KIND_RATING),
        pending=pending_count() if callable(pending_count) else None,
        device_id=store.device_id,
        recent_audit=store.audit_trail.latest(RECENT_AUDIT),
        log_lines=recent_log_lines(log_dir),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def recent_log_lines(log_dir: Path | None, n: int = 50) -> list[str]:
    """The last ``n`` lines of the newest log file in ``log_dir``, oldest first.

    Kivy writes one file per start into ``<KIVY_HOME>/logs``; the newest is
    the running app's. A missing folder or an empty one gives ``[]``. Bytes
    that are not UTF-8 are shown as replacement characters, never raised.
    """
    if log_dir is None or n <= 0:
        return []
    try:
        files = [p for p in Path(log_dir).iterdir() if p.is_file()]
    except OSError:
        return []
    newest = None
    newest_key = None
    for path in files:
        try:
            key = (path.stat().st_mtime_ns, path.name)
        except OSError:  # removed while we looked (Kivy prunes old logs)
            continue
        if newest_key is None or key > newest_key:
            newest, newest_key = path, key
    if newest is None:
        return []
    try:
        with open(newest, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            start = max(0, size - LOG_TAIL_BYTES)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line was cut by the seek
    return lines[-n:]


_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(n: int, language: str | None = None) -> str:
    """A size for people: ``"512 B"``, ``"1,5 MB"`` (Vietnamese decimal comma),
    ``"1.5 MB"`` in English. Units of 1024."""
    language = language or current_language()
    value = float(max(0, n))
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        text = f"{int(value)}"
    elif value < 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.0f}"
    if language == "vi":
        text = text.replace(".", ",")
    return f"{text} {_UNITS[unit]}"
