"""Opening the server database: SQLite by default (a file path), or any
SQLAlchemy URL (``postgresql+psycopg://…``) running the same code.

Where the two databases differ underneath, this module evens it out: SQLite
gets WAL, full sync and an immediate write lock per transaction, the
server's own writers take turns for that lock, and its file is kept
private; PostgreSQL plans each statement afresh; and :func:`write_transaction`
runs a write again when it lost a race that SQLite's one-writer-at-a-time
locking never lets happen.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from server.store.migrations import upgrade
from server.store.tables import metadata

__all__ = ["open_engine", "database_url", "write_transaction", "DB_WAIT_S", "SQLITE_SETTINGS"]

DB_WAIT_S = 5.0
"""How long, by default, a statement waits for SQLite's write lock (or
PostgreSQL's row and table locks), and a request for a pooled connection,
before failing: well below the tablets' 30-second read timeout, so a locked
database answers 503 quickly instead of letting requests pile up."""


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL for ``--db``: a URL as it is, a path as a SQLite file."""
    text = str(db)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


# SQLite's companion files: the write-ahead log and its index hold the same
# data (device secrets included) as the database file.
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _make_private(path: Path) -> None:
    """Owner-only permissions on the database file and its companions.

    The file holds every device's secret: anyone who can read it can sign
    batches as any tablet. SQLite creates the -wal and -shm files with the
    database file's permissions, so the main file is made private before
    WAL mode is switched on; existing companions (from an older version or a
    looser umask) are fixed too."""
    if os.name != "posix":  # Windows: permission bits mean little; ACLs are the host's business
        return
    if not path.exists():
        # Created here with 0600 rather than by SQLite with 0644 & ~umask,
        # so there is no moment at which it is readable by others.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in _SQLITE_SUFFIXES:
        companion = Path(f"{path}{suffix}")
        try:
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, 0o600)
        except FileNotFoundError:
            pass


def open_engine(db: str | Path, *, wait_s: float = DB_WAIT_S) -> Engine:
    """Open (and create the tables of) the server database. A statement
    waits at most ``wait_s`` seconds for a lock held by another connection
    or process, and a caller as long for a free pooled connection; then the
    database error is raised (the API answers 503)."""
    url = database_url(db)
    if url.startswith("sqlite"):
        file = _sqlite_path(url)
        path = Path(file) if file else None
        if path is not None:
            _make_private(path)
        engine = create_engine(url, connect_args={"timeout": wait_s}, pool_size=8, max_overflow=8,
                               # The connection used last: its page cache still holds what the
                               # last batches read (another connection's commit would void it).
                               pool_timeout=wait_s, pool_use_lifo=True)

        def connect(dbapi_connection, record) -> None:
            if path is not None:
                _make_private(path)
            _sqlite_connect(dbapi_connection, record, wait_s)

        event.listen(engine, "connect", connect)
        # Take the write lock when a transaction begins: two ingests never
        # deadlock upgrading a read lock, they queue. A transaction opened by
        # read_transaction only reads: it takes no lock, and (WAL) reads a
        # snapshot while batches are written.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(
            "BEGIN" if conn.info.get(_READ_ONLY) else "BEGIN IMMEDIATE"))
        _WRITERS[engine] = _WriterTurn(wait_s)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_timeout=wait_s)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "connect", lambda conn, record: _postgresql_connect(conn, record, wait_s))
    metadata.create_all(engine)
    upgrade(engine)
    return engine


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    name = url.split(":///", 1)[1] if ":///" in url else ""
    return name if name and name != ":memory:" and not name.startswith("file:") else None


T = TypeVar("T")

# SQLSTATEs of a transaction that lost a race to another one and is worth
# running again: unique_violation, serialization_failure, deadlock_detected.
_LOST_RACE = {"23505", "40001", "40P01"}
_WRITE_ATTEMPTS = 3


def _lost_race(exc: DBAPIError) -> bool:
    orig = exc.orig
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _LOST_RACE


_READ_ONLY = "hailong_read_only"


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for work that only reads (the dashboard's figures, the
    reports, the exports). On SQLite every other transaction takes the write
    lock as it begins; this one takes none, so a year's report or a long
    export never holds up the tablets' uploads, nor waits for them: it reads
    a consistent snapshot (WAL). Writing inside it is a mistake SQLite may
    refuse with "database is locked". Elsewhere it is a plain transaction."""
    with engine.connect() as conn:
        conn.info[_READ_ONLY] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop(_READ_ONLY, None)


class _WriterTurn:
    """The turn of this process's writers to one SQLite database.

    SQLite lets one transaction write at a time, and one that finds the
    lock taken polls for it, sleeping longer and longer between tries (up
    to 100 ms): with several tablets uploading at once, a batch waited half
    a second for a lock freed long before. Writers of this process queue
    here instead and each starts the moment the one before it is done;
    SQLite's own wait still covers other processes (the command line, a
    backup). A writer that does not get its turn within ``wait_s`` fails
    as a locked database does."""

    def __init__(self, wait_s: float):
        self.lock = threading.Lock()
        self.wait_s = wait_s

    @contextmanager
    def taken(self) -> Iterator[None]:
        """Hold the turn for the block; raises SQLAlchemy's OperationalError
        ("database is locked") when it does not come in time."""
        if not self.lock.acquire(timeout=self.wait_s):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        try:
            yield
        finally:
            self.lock.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterTurn] = weakref.WeakKeyDictionary()


def write_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one transaction and return what it returns.

    Callers read, decide, then write ("no device with this id yet: insert
    it"). On SQLite that is safe as it is: every write transaction takes the
    database's write lock when it begins, so no other writer can act on the
    same reads. PostgreSQL runs writers side by side: two of them can both see
    no row under a key and both insert it, and the one that commits second
    fails on the unique key (or, having locked rows in the other order, is
    chosen as a deadlock's victim). Run again, it reads what the winner
    committed and decides as it would have had it waited its turn, so there
    it is retried a few times before the error is let through. On SQLite it
    runs once, as a plain ``engine.begin()`` block, once its turn among the
    server's writers has come (:class:`_WriterTurn`)."""
    turn = _WRITERS.get(engine)
    if turn is not None:
        with turn.taken(), engine.begin() as conn:
            return work(conn)
    attempts = 1 if engine.dialect.name == "sqlite" else _WRITE_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not _lost_race(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _postgresql_connect(dbapi_connection, _record, wait_s: float) -> None:
    # The driver turns a statement run a few times into a prepared one, and
    # PostgreSQL may then settle on one plan for every later run. A new
    # database's tables are empty when that happens, so the plan it keeps is
    # a full scan: the lookup of a batch's 100 UUIDs then reads the whole
    # records table, slower as it grows (8 ms instead of 1 ms at 3,000
    # ratings), until an automatic ANALYZE happens to replace the plan.
    # Planning each run anew costs little for these statements and always
    # sees the tables as they are.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    # A lock held elsewhere (a long migration, a manual session) fails the
    # statement after wait_s rather than holding the request indefinitely.
    cursor.execute(f"SET lock_timeout = {int(wait_s * 1000)}")
    cursor.close()
    # SET is transactional: committed, or the pool's first rollback undoes it.
    dbapi_connection.commit()


SQLITE_SETTINGS: tuple[str, ...] = (
    "journal_mode=WAL",
    # An acknowledged batch must survive a power cut: the tablet will not send it again.
    "synchronous=FULL",
    # A checkpoint copies every page the WAL holds back into the database and
    # syncs it, inside whichever commit crosses the threshold. Record UUIDs
    # are random, so each batch touches pages all over their index; at the
    # default threshold (1,000 pages) checkpoints came every few batches and
    # grew dearer as the database grew. 10,000 pages (about 40 MB of WAL)
    # writes a page changed by many batches back once. Every commit still
    # syncs the WAL, so an acknowledged batch is as durable as before.
    "wal_autocheckpoint=10000",
    # SQLite's default page cache is 2 MB a connection. The ingest looks
    # every new record's UUID up, at random places in its index, and a
    # pooled connection's cache outlives the request: 16 MB keeps about
    # 100,000 ratings' UUIDs, and the upper levels of a bigger index, in
    # memory (a batch of 500 went in a fifth faster). Taken as needed, not
    # at once.
    "cache_size=-16000",
)
"""The PRAGMAs every connection of the server to a SQLite database runs
first (the ingest benchmark's raw baseline runs them too)."""


def _sqlite_connect(dbapi_connection, _record, wait_s: float = DB_WAIT_S) -> None:
    # Transactions are begun by the "begin" listener, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for setting in SQLITE_SETTINGS:
        cursor.execute(f"PRAGMA {setting}")
    # Waiting for another writer's lock: bounded, so a database held locked
    # by another process (a backup tool, a stuck script) turns into quick
    # 503s, not requests queueing for half a minute each.
    cursor.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
    cursor.close()
