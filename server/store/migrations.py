"""Bringing a database made by an older version up to date.

``create_all`` makes the tables that are missing, not the columns a newer
version added to an existing table; each such change is applied here, once,
when the database is opened.

Whole new tables need no step: the dashboard's accounts, sessions,
login_attempts and audit_log tables appear in an older database when it is
next opened, through ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from server.store.tables import findings

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
