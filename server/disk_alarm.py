"""A full disk, told apart from a busy database, and remembered for the
dashboard.

When the disk under the database fills up, SQLite answers "database or disk
is full" (PostgreSQL: SQLSTATE 53100), and writing any other file fails with
``ENOSPC``. The write's transaction is rolled back, so nothing half-stored is
kept, and the tablet, told 507 ``disk_full``, keeps its records and sends
them again later. :func:`is_disk_full` recognises the error; a
:class:`DiskAlarm` (one per server, in memory: when the disk is full, nothing
can be written to say so) remembers when it last happened and measures the
free space, for the devices page and ``/api/v1/health``.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from server.clock import Clock, utc_now, utc_text

__all__ = ["is_disk_full", "DiskAlarm", "DiskState", "LOW_DISK_BYTES", "ALARM_MEMORY", "DISK_FULL_RETRY_AFTER_S"]

DISK_FULL_RETRY_AFTER_S = 60
"""What a 507 asks a tablet to wait: space comes back when a person frees it, not in a second."""

LOW_DISK_BYTES = 256 * 1024 * 1024
"""Free space under the database below which the dashboard warns before the disk is full."""
ALARM_MEMORY = timedelta(minutes=15)
"""How long a refused write keeps the alarm on when no write has succeeded since."""

_SQLITE_FULL = 13
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_PG_DISK_FULL = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy error, a driver error or an ``OSError``)
    says the disk or the database file is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return True
        if isinstance(current, sqlite3.Error) and (getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL
                                                   or "database or disk is full" in str(current)):
            return True
        if (getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)) == _PG_DISK_FULL:
            return True
        if "No space left on device" in str(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class DiskState:
    """What the dashboard shows about the disk."""

    full: bool
    """A write was refused for lack of space recently, and none has succeeded since."""
    since: str | None
    """When the last write was refused (UTC, ISO 8601)."""
    free_bytes: int | None
    """Free space under the database file now (None: not a local file)."""
    low: bool
    """Free space is below :data:`LOW_DISK_BYTES`."""

    @property
    def alarm(self) -> bool:
        """Whether to warn the technician."""
        return self.full or self.low


class DiskAlarm:
    """The server's memory of disk-full errors, and the free space under ``folder``."""

    def __init__(self, folder: Path | None, clock: Clock = utc_now):
        self.folder = folder
        self.clock = clock
        self._lock = threading.Lock()
        self._last_refused: datetime | None = None

    def refused(self) -> None:
        """A write failed for lack of space."""
        with self._lock:
            self._last_refused = self.clock()

    def stored(self) -> None:
        """A write succeeded: space is back."""
        with self._lock:
            self._last_refused = None

    def free_bytes(self) -> int | None:
        """Free space under the database, or None when unknown."""
        if self.folder is None:
            return None
        try:
            return shutil.disk_usage(self.folder).free
        except OSError:
            return None

    def state(self) -> DiskState:
        """The disk as the dashboard shows it (no database access)."""
        with self._lock:
            last = self._last_refused
        full = last is not None and self.clock() - last < ALARM_MEMORY
        free = self.free_bytes()
        return DiskState(full=full, since=utc_text(last) if full and last else None, free_bytes=free,
                         low=free is not None and free < LOW_DISK_BYTES)
