"""The query behind the ``repeat_dossier`` flag: which dossier codes already
have a rating stored (through the partial index on ``dossier_code``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, literal_column, select

from server.store import tables

__all__ = ["rated_dossiers"]

_CHUNK = 500


def rated_dossiers(conn: Connection, codes: Collection[str]) -> set[str]:
    """The codes among ``codes`` that a stored rating (of any device) carries."""
    records = tables.records
    found: set[str] = set()
    ordered = sorted(codes)
    for start in range(0, len(ordered), _CHUNK):
        query = (select(records.c.dossier_code).distinct()
                 .where(records.c.dossier_code.in_(ordered[start:start + _CHUNK]),
                        records.c.kind == literal_column("'rating'")))
        found.update(row[0] for row in conn.execute(query))
    return found
