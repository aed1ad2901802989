"""The statistics SQLite's query planner reads (``sqlite_stat1``), kept fresh.

The dashboard counts every officer's ratings of a day through the one index
led by the officer (:data:`server.store.tables.RATING_INDEXES`): SQLite skips
through it officer by officer only when its statistics say each officer has
many ratings. Without them it would read the whole index for every day of a
board. They are gathered when the database is opened without them and again
as the ratings grow (:func:`refresh`, from the batch ingest's housekeeping);
``analysis_limit`` makes each pass read a sample of each index, a few
milliseconds whatever the table's size. PostgreSQL keeps its own (autovacuum).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

__all__ = ["missing", "refresh"]

# Rows sampled per index: enough for the planner's estimates, cheap on any size.
SAMPLE_ROWS = 1000


def missing(conn: Connection) -> bool:
    """Whether the records table has no statistics yet (SQLite only)."""
    if conn.dialect.name != "sqlite":
        return False
    exists = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    if exists is None:
        return True
    return conn.exec_driver_sql("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'records' LIMIT 1").first() is None


def refresh(engine: Engine) -> None:
    """Gather the records table's statistics afresh, from a sample (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA analysis_limit = {SAMPLE_ROWS}")
        conn.exec_driver_sql("ANALYZE records")
