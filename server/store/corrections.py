"""A rating's correction on the rating's own row: the columns every figure
reads (``corrected_score``, ``corrected_level``), set once."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, literal_column, select, update

from server.store import tables
from server.store.records import FIELD_COLUMNS, record_of_row
from sync.record import Record

__all__ = ["ratings_of_device", "set_correction"]

_CHUNK = 500


def ratings_of_device(conn: Connection, device_id: str, uuids: Collection[str]) -> dict[str, tuple[Record, bool]]:
    """The device's stored ratings with these UUIDs, each with whether it is corrected already."""
    records = tables.records
    found: dict[str, tuple[Record, bool]] = {}
    ordered = sorted(uuids)
    for start in range(0, len(ordered), _CHUNK):
        query = (select(*FIELD_COLUMNS, records.c.corrected_level)
                 .where(records.c.device_id == device_id, records.c.uuid.in_(ordered[start:start + _CHUNK]),
                        records.c.kind == literal_column("'rating'")))
        for row in conn.execute(query).mappings():
            found[row["uuid"]] = (record_of_row(row), row["corrected_level"] is not None)
    return found


def set_correction(conn: Connection, device_id: str, rating_uuid: str, score: int, level: str) -> bool:
    """Put the correction on its rating's row, unless one is there already; whether it was put."""
    records = tables.records
    done = conn.execute(update(records)
                        .where(records.c.device_id == device_id, records.c.uuid == rating_uuid,
                               records.c.kind == literal_column("'rating'"), records.c.corrected_level.is_(None))
                        .values(corrected_score=score, corrected_level=level))
    return done.rowcount == 1

