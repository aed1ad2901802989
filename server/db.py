"""The server's tables (SQLAlchemy Core) and how the database is opened.

SQLite by default: a file path. Any SQLAlchemy URL (``postgresql+psycopg://…``)
runs the same code on PostgreSQL; nothing here or in the callers uses
SQLite-only SQL. Times are stored as ISO 8601 UTC text with milliseconds,
which sorts correctly on every database.

Where the two differ underneath, this module evens it out: on PostgreSQL the
short text columns compare by code point as SQLite's do (see :func:`_text`),
the columns are wide enough for every value the wire rules let through, and
:func:`write_transaction` runs a write again when it lost a race that SQLite's
one-writer-at-a-time locking never lets happen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError

from sync.protocol import MAX_FIELD_CHARS

__all__ = ["metadata", "open_engine", "database_url", "write_transaction"]

metadata = MetaData()


def _text(length: int) -> String:
    """A VARCHAR that compares and sorts by code point on every database.

    SQLite compares text byte by byte (UTF-8, so by code point); PostgreSQL
    uses the database's collation, which for a usual locale (vi_VN, en_US)
    puts ``a2`` before ``B1``. The "C" collation makes PostgreSQL order device
    ids and times as SQLite does, and its indexes compare faster too. On
    SQLite the column is the plain VARCHAR it always was."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


TIME = _text(40)  # ISO 8601 UTC text

devices = Table(
    "devices",
    metadata,
    Column("device_id", _text(64), primary_key=True),
    Column("label", _text(200)),
    Column("app_version", _text(50)),
    Column("secret", _text(128), nullable=False),
    Column("status", _text(16), nullable=False),  # active | revoked
    Column("paired_at", TIME),
    Column("revoked_at", TIME),
    Column("revoked_reason", Text),
    Column("last_seen_at", TIME),
    Column("pending_count", BigInteger),
    Column("clock_offset_s", Float),
    Column("clock_checked_at", TIME),
    Column("clock_off", Boolean, nullable=False, default=False),
    Column("head_seq", BigInteger, nullable=False, default=0),
    Column("head_hash", _text(64), nullable=False),
    # A record's boot id and level are held to the wire's limit on any text
    # field, not less: PostgreSQL enforces VARCHAR lengths (SQLite does not),
    # and a record the rules accept must not fail its whole batch there.
    Column("head_boot_id", _text(MAX_FIELD_CHARS)),
    Column("head_monotonic_ns", BigInteger),
    Column("records_count", BigInteger, nullable=False, default=0),
)

pairings = Table(
    "pairings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_code_digest", _text(64), nullable=False, unique=True),
    Column("user_code", _text(16), nullable=False, unique=True),
    Column("device_id", _text(64), nullable=False),
    Column("label", _text(200)),
    Column("app_version", _text(50)),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("last_poll_at", TIME),
    Column("status", _text(16), nullable=False),  # pending | approved | denied | delivered
    Column("decided_at", TIME),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("uuid", _text(64), nullable=False, unique=True),
    Column("kind", _text(16), nullable=False),
    Column("hash", _text(64), nullable=False),
    Column("prev_hash", _text(64), nullable=False),
    Column("digest", _text(64), nullable=False),
    Column("body", Text, nullable=False),  # the wire form, exactly as verified
    Column("boot_id", _text(MAX_FIELD_CHARS)),  # as head_boot_id
    Column("monotonic_ns", BigInteger),
    Column("device_time", _text(40), nullable=False),
    Column("corrected_time", TIME, nullable=False),
    Column("time_method", _text(16), nullable=False),
    Column("clock_offset_s", Float, nullable=False),
    Column("received_at", TIME, nullable=False),
    Column("batch_key", _text(100)),
    Column("flags", _text(300), nullable=False, default=""),
    Column("officer_id", _text(500)),
    Column("counter_id", _text(500)),
    Column("score", Integer),
    Column("scale", Integer),
    Column("level", _text(MAX_FIELD_CHARS)),  # as head_boot_id
    Column("burst", Boolean),
    Column("simulated", Boolean),
    Column("rating_uuid", _text(64)),
    Column("reasons", Text),
    Column("callback_requested", Boolean),
    UniqueConstraint("device_id", "seq", name="uq_records_device_seq"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False, index=True),
    Column("seq", BigInteger),
    Column("uuid", _text(64)),
    Column("problem", _text(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("found_at", TIME, nullable=False),
    Column("batch_key", _text(100)),
    # Set when what the finding reported no longer holds (the records a gap
    # said were missing all arrived, linked both ways). The row stays, as history.
    Column("resolved_at", TIME),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False, index=True),
    Column("uuid", _text(64)),
    Column("seq", BigInteger),
    Column("body", Text, nullable=False),
    Column("received_at", TIME, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("device_id", _text(64), nullable=False),
    Column("idempotency_key", _text(100), nullable=False),
    Column("records_digest", _text(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("received_at", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "idempotency_key"),
)

boots = Table(
    "boots",
    metadata,
    Column("device_id", _text(64), nullable=False),
    Column("boot_id", _text(100), nullable=False),
    Column("anchor_monotonic_ns", BigInteger, nullable=False),
    Column("anchor_server_time", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "boot_id"),
)

roster = Table(
    "roster",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("etag", _text(80), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", TIME, nullable=False),
)

portraits = Table(
    "portraits",
    metadata,
    Column("officer_id", _text(200), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", _text(50), nullable=False),
    Column("sha256", _text(64), nullable=False),
)


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


def open_engine(db: str | Path) -> Engine:
    """Open (and create the tables of) the server database."""
    url = database_url(db)
    if url.startswith("sqlite"):
        file = _sqlite_path(url)
        path = Path(file) if file else None
        if path is not None:
            _make_private(path)
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8)

        def connect(dbapi_connection, record) -> None:
            if path is not None:
                _make_private(path)
            _sqlite_connect(dbapi_connection, record)

        event.listen(engine, "connect", connect)
        # Take the write lock when a transaction begins: two ingests never
        # deadlock upgrading a read lock, they queue.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "connect", _postgresql_connect)
    metadata.create_all(engine)
    _upgrade(engine)
    return engine


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    name = url.split(":///", 1)[1] if ":///" in url else ""
    return name if name and name != ":memory:" and not name.startswith("file:") else None


def _upgrade(engine: Engine) -> None:
    """Add columns that newer versions use to a database made by an older one
    (create_all makes missing tables, not missing columns)."""
    present = {column["name"] for column in inspect(engine).get_columns("findings")}
    if "resolved_at" not in present:
        # The column's type as this database spells it (VARCHAR(40), plus the
        # collation on PostgreSQL), so an upgraded table matches a new one.
        kind = findings.c.resolved_at.type.compile(dialect=engine.dialect)
        # PostgreSQL can say IF NOT EXISTS: a second process opening the same
        # database at that moment must not fail on the column the first added.
        # (On SQLite the two queue for the write lock and the check above is the guard.)
        guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE findings ADD COLUMN {guard}resolved_at {kind}"))


T = TypeVar("T")

# SQLSTATEs of a transaction that lost a race to another one and is worth
# running again: unique_violation, serialization_failure, deadlock_detected.
_LOST_RACE = {"23505", "40001", "40P01"}
_WRITE_ATTEMPTS = 3


def _lost_race(exc: DBAPIError) -> bool:
    orig = exc.orig
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _LOST_RACE


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
    runs once, exactly as a plain ``engine.begin()`` block."""
    attempts = 1 if engine.dialect.name == "sqlite" else _WRITE_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not _lost_race(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _postgresql_connect(dbapi_connection, _record) -> None:
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
    cursor.close()
    # SET is transactional: committed, or the pool's first rollback undoes it.
    dbapi_connection.commit()


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Transactions are begun by the "begin" listener, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # An acknowledged batch must survive a power cut: the tablet will not send it again.
    cursor.execute("PRAGMA synchronous=FULL")
    # A checkpoint copies every page the WAL holds back into the database and
    # syncs it, inside whichever commit crosses the threshold. Record UUIDs
    # are random, so each batch touches pages all over their index; at the
    # default threshold (1,000 pages) checkpoints came every few batches and
    # grew dearer as the database grew. 10,000 pages (about 40 MB of WAL)
    # writes a page changed by many batches back once. Every commit still
    # syncs the WAL, so an acknowledged batch is as durable as before.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
