"""The tablet's sealing key (:mod:`sync.seal`): made at pairing, used and
replaced by every append, and forgotten as it goes.

The key lives in the ``seal_keys`` table of the journal's own database, so a
record, its seal and the key's replacement are one transaction: a record is
never committed without its key having moved on, nor the key moved on
without its record. The old key is overwritten, not left behind:

* ``PRAGMA secure_delete=ON`` (set on every connection) makes SQLite zero what
  an overwritten or deleted row leaves in the page;
* in WAL mode the page with the old key would also stay in the write-ahead
  log until the log is reused, so after a sealed append the log is
  checkpointed into the database and truncated to nothing
  (:func:`forget_old_keys`). That costs writes to the drive, so it runs on a
  thread of its own right after the commit (:class:`KeyEraser`), not in the
  tap's time: for those few milliseconds the previous key is still in the log.

A file taken afterwards holds only the key of the *next* record.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from kiosk.store.database import TabletDatabase
from sync.record import Record
from sync.seal import MAX_STEPS, key_after, new_key, next_key, seal_record

__all__ = ["SealKeys", "SealingState", "KeyEraser", "seal_in_transaction", "forget_old_keys"]

_CURRENT = "current"
_REGISTRATION = "registration"


@dataclass(frozen=True)
class SealingState:
    """Whether this tablet seals its records, and from which one."""

    sealing: bool
    """A key exists: every new record is sealed."""
    first_seq: int | None
    """The first sealed record's sequence number (while the server has not
    confirmed the key: the one it will be told)."""
    registered: bool
    """The server has confirmed the key."""


class SealKeys:
    """The sealing key of one tablet database."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def start(self) -> tuple[int, bytes]:
        """Make the first key if there is none yet, for the record after the
        last one; return the registration still owed to the server
        ``(first_seq, first key)``. When a key exists already, the owed
        registration is returned as it is (or, once done, raises
        :class:`LookupError`: a registered key is never replaced)."""
        with self.database.write() as conn:
            current = conn.execute("SELECT seq FROM seal_keys WHERE slot = ?", [_CURRENT]).fetchone()
            if current is None:
                last = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
                key = new_key()
                # Both rows in one transaction: the first record sealed is
                # always one the server will be able to check.
                conn.executemany("INSERT INTO seal_keys (slot, seq, key) VALUES (?, ?, ?)",
                                 [(_CURRENT, last + 1, key), (_REGISTRATION, last + 1, key)])
                return last + 1, key
            owed = conn.execute("SELECT seq, key FROM seal_keys WHERE slot = ?", [_REGISTRATION]).fetchone()
        if owed is None:
            raise LookupError("the sealing key is registered already")
        return owed[0], bytes(owed[1])

    def owed_registration(self) -> tuple[int, bytes] | None:
        """The first key and its sequence number while the server has not confirmed them."""
        row = self.database.conn.execute(
            "SELECT seq, key FROM seal_keys WHERE slot = ?", [_REGISTRATION]).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def registered(self) -> None:
        """The server has the first key: forget it (zeroed, the log truncated)."""
        with self.database.write() as conn:
            conn.execute("DELETE FROM seal_keys WHERE slot = ?", [_REGISTRATION])
        forget_old_keys(self.database.conn)

    def state(self) -> SealingState:
        """Whether records are being sealed, from which one, and whether the server knows."""
        rows = dict(self.database.conn.execute("SELECT slot, seq FROM seal_keys").fetchall())
        if _CURRENT not in rows:
            return SealingState(False, None, False)
        if _REGISTRATION in rows:
            return SealingState(True, rows[_REGISTRATION], False)
        first = self.database.conn.execute(
            "SELECT min(seq) FROM journal WHERE seal IS NOT NULL AND seal != ''").fetchone()[0]
        return SealingState(True, first, True)


def seal_in_transaction(conn: sqlite3.Connection, record: Record) -> Record:
    """Seal a hashed record with the current key and put the next key in its
    place, inside the caller's write transaction. Without a key (the tablet
    was never paired) the record is returned unsealed."""
    row = conn.execute("SELECT seq, key FROM seal_keys WHERE slot = ?", [_CURRENT]).fetchone()
    if row is None:
        return record
    key_seq, key = row[0], bytes(row[1])
    if key_seq > record.seq or record.seq - key_seq > MAX_STEPS:
        # The key is past this place in the chain (the journal lost records
        # it had sealed): no right seal can be made, and the server will say so.
        return record
    key = key_after(key, record.seq - key_seq)
    sealed = replace(record, seal=seal_record(key, record))
    conn.execute("UPDATE seal_keys SET seq = ?, key = ? WHERE slot = ?", [record.seq + 1, next_key(key), _CURRENT])
    return sealed


def forget_old_keys(conn: sqlite3.Connection) -> None:
    """Have the write-ahead log emptied of older keys, right away but on
    another thread (:class:`KeyEraser`): a citizen's tap must not wait for
    the checkpoint's writes to the drive."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    if path:  # not an in-memory database
        KeyEraser.poke(path)


class KeyEraser(threading.Thread):
    """Empties one database file's write-ahead log into the database and
    truncates it (``wal_checkpoint(TRUNCATE)``) soon after each sealed
    append, on its own connection and thread, so that no earlier page image
    holding an older key stays in the log. It never makes a writer wait
    long: it does not wait for locks itself (a busy attempt is tried again a
    moment later), and it ends once its file has been quiet for a while."""

    RETRY_S = 0.05
    IDLE_S = 2.0
    _running: dict[str, KeyEraser] = {}
    _lock = threading.Lock()

    def __init__(self, path: str):
        super().__init__(name="hailong-key-eraser", daemon=True)
        self.path = path
        self.wake = threading.Event()
        self.done = threading.Event()

    @classmethod
    def poke(cls, path: str) -> None:
        """Ask for the log of ``path`` to be emptied (starting an eraser if none runs)."""
        with cls._lock:
            eraser = cls._running.get(path)
            if eraser is None:
                eraser = cls._running[path] = cls(path)
                eraser.start()
            eraser.done.clear()
            eraser.wake.set()

    @classmethod
    def wait(cls, path: str | Path, timeout: float = 5.0) -> bool:
        """Wait until the log of ``path`` has been emptied since the last poke (for tests and shutdown)."""
        with cls._lock:
            eraser = cls._running.get(str(path))
        return eraser is None or eraser.done.wait(timeout)

    def run(self) -> None:
        # timeout=0: never wait for a lock here; a writer waits for us only
        # while the checkpoint itself runs.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
        try:
            while True:
                if not self.wake.wait(self.IDLE_S):
                    with self._lock:
                        if not self.wake.is_set():
                            del self._running[self.path]
                            self.done.set()
                            return
                    continue
                self.wake.clear()
                if not self._checkpoint(conn):
                    time.sleep(self.RETRY_S)
                    self.wake.set()
                elif not self.wake.is_set():
                    self.done.set()
        finally:
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> bool:
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # locked by a writer right now
            return False
        return busy == 0
