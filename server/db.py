"""The server's tables (SQLAlchemy Core) and how the database is opened.

SQLite by default: a file path. Any SQLAlchemy URL (``postgresql+psycopg://…``)
runs the same code on PostgreSQL; nothing here or in the callers uses
SQLite-only SQL. Times are stored as ISO 8601 UTC text with milliseconds,
which sorts correctly on every database.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
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

__all__ = ["metadata", "open_engine", "database_url"]

metadata = MetaData()

TIME = String(40)  # ISO 8601 UTC text

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("label", String(200)),
    Column("app_version", String(50)),
    Column("secret", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("paired_at", TIME),
    Column("revoked_at", TIME),
    Column("revoked_reason", Text),
    Column("last_seen_at", TIME),
    Column("pending_count", BigInteger),
    Column("clock_offset_s", Float),
    Column("clock_checked_at", TIME),
    Column("clock_off", Boolean, nullable=False, default=False),
    Column("head_seq", BigInteger, nullable=False, default=0),
    Column("head_hash", String(64), nullable=False),
    Column("head_boot_id", String(100)),
    Column("head_monotonic_ns", BigInteger),
    Column("records_count", BigInteger, nullable=False, default=0),
)

pairings = Table(
    "pairings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_code_digest", String(64), nullable=False, unique=True),
    Column("user_code", String(16), nullable=False, unique=True),
    Column("device_id", String(64), nullable=False),
    Column("label", String(200)),
    Column("app_version", String(50)),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("last_poll_at", TIME),
    Column("status", String(16), nullable=False),  # pending | approved | denied | delivered
    Column("decided_at", TIME),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the wire form, exactly as verified
    Column("boot_id", String(100)),
    Column("monotonic_ns", BigInteger),
    Column("device_time", String(40), nullable=False),
    Column("corrected_time", TIME, nullable=False),
    Column("time_method", String(16), nullable=False),
    Column("clock_offset_s", Float, nullable=False),
    Column("received_at", TIME, nullable=False),
    Column("batch_key", String(100)),
    Column("flags", String(300), nullable=False, default=""),
    Column("officer_id", String(500)),
    Column("counter_id", String(500)),
    Column("score", Integer),
    Column("scale", Integer),
    Column("level", String(50)),
    Column("burst", Boolean),
    Column("simulated", Boolean),
    Column("rating_uuid", String(64)),
    Column("reasons", Text),
    Column("callback_requested", Boolean),
    UniqueConstraint("device_id", "seq", name="uq_records_device_seq"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("seq", BigInteger),
    Column("uuid", String(64)),
    Column("problem", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("found_at", TIME, nullable=False),
    Column("batch_key", String(100)),
    # Set when what the finding reported no longer holds (the records a gap
    # said were missing all arrived, linked both ways). The row stays, as history.
    Column("resolved_at", TIME),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("uuid", String(64)),
    Column("seq", BigInteger),
    Column("body", Text, nullable=False),
    Column("received_at", TIME, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("device_id", String(64), nullable=False),
    Column("idempotency_key", String(100), nullable=False),
    Column("records_digest", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("received_at", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "idempotency_key"),
)

boots = Table(
    "boots",
    metadata,
    Column("device_id", String(64), nullable=False),
    Column("boot_id", String(100), nullable=False),
    Column("anchor_monotonic_ns", BigInteger, nullable=False),
    Column("anchor_server_time", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "boot_id"),
)

roster = Table(
    "roster",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("etag", String(80), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", TIME, nullable=False),
)

portraits = Table(
    "portraits",
    metadata,
    Column("officer_id", String(200), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", String(50), nullable=False),
    Column("sha256", String(64), nullable=False),
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
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE findings ADD COLUMN resolved_at VARCHAR(40)"))


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
