"""The queries of the commune-wide server settings: a key/value table whose
values are JSON text."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select, update

from server.store import tables

__all__ = ["stored_settings", "put_setting", "roster_commune_name"]


def stored_settings(conn: Connection) -> dict[str, Any]:
    """Every stored setting, by key (values decoded from JSON)."""
    return {row[0]: json.loads(row[1]) for row in conn.execute(select(tables.settings.c.key, tables.settings.c.value))}


def put_setting(conn: Connection, key: str, value: Any, *, stamp: str) -> None:
    """Store (or replace) one setting."""
    text = json.dumps(value, ensure_ascii=False)
    done = conn.execute(update(tables.settings).where(tables.settings.c.key == key)
                        .values(value=text, updated_at=stamp))
    if done.rowcount == 0:
        conn.execute(insert(tables.settings).values(key=key, value=text, updated_at=stamp))


def roster_commune_name(conn: Connection) -> str | None:
    """The commune's name in the current roster, if one was imported."""
    body = conn.execute(select(tables.roster.c.body).where(tables.roster.c.id == 1)).scalar()
    if body is None:
        return None
    name = (json.loads(body).get("commune") or {}).get("name")
    return name if isinstance(name, str) and name else None
