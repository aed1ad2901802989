"""Bringing a database made by an older version up to date.

``create_all`` makes the tables that are missing, not the columns a newer
version added to an existing table; each such change is applied here, once,
when the database is opened.

Whole new tables need no step: the dashboard's accounts, sessions,
login_attempts and audit_log tables, the follow-up's cases and
case_events tables, and the letters table, appear in an older database when it is next opened,
through ``create_all`` (with their indexes and unique keys).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from server.store.tables import RATING_INDEXES, findings

__all__ = ["upgrade"]


def upgrade(engine: Engine) -> None:
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
    _add_rating_indexes(engine)


def _add_rating_indexes(engine: Engine) -> None:
    """The dashboard's indexes on ``records``, on a database made before them
    (create_all makes a new table's indexes, not those added to an old one).
    Building them over a large table takes a while, once."""
    present = {index["name"] for index in inspect(engine).get_indexes("records")}
    for index in RATING_INDEXES.get(engine.dialect.name, ()):
        if index.name not in present:
            with engine.begin() as conn:
                index.create(conn, checkfirst=True)
