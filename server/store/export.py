"""The queries of the ratings export: the ratings of a range a window of
row ids at a time with the details records attached to them (so an export of any size
holds one page in memory), and the findings by their place in a chain. No
query here reads a details record's body: it holds the citizen's phone
number, which no export carries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, func, literal_column, select

from server.store import tables

__all__ = ["findings_by_place", "receipt_times", "id_span", "rating_window", "details_count", "details_rating_uuids",
           "details_of", "RATING_COLUMNS"]

# A bound parameter would hide from the database that these rows are in the
# partial indexes on ratings and details (see tables.RATING_INDEXES).
_RATING = literal_column("'rating'")
_DETAILS = literal_column("'details'")

RATING_COLUMNS = (
    "id", "device_id", "seq", "uuid", "officer_id", "counter_id", "score", "scale", "level", "device_time",
    "corrected_time", "time_method", "clock_offset_s", "receipt_id", "flags", "dossier_code", "corrected_score",
    "corrected_level",
)
"""The columns of each row :func:`rating_window` returns first, in this order
(the time the rating was received is its receipt's: :func:`receipt_times`)."""


def receipt_times(conn: Connection) -> dict[int, str]:
    """When each batch was received (UTC text), by receipt id: one per batch,
    a few thousand a year, read once rather than joined to every rating."""
    receipts = tables.receipts
    return dict(conn.execute(select(receipts.c.id, receipts.c.received_at)).all())


def findings_by_place(conn: Connection) -> dict[tuple[str, int], list[str]]:
    """Each finding as a line of text, by (device id, sequence number), oldest first."""
    found: dict[tuple[str, int], list[str]] = defaultdict(list)
    findings = tables.findings
    for row in conn.execute(select(findings.c.device_id, findings.c.seq, findings.c.problem, findings.c.detail,
                                   findings.c.resolved_at).order_by(findings.c.id)):
        resolved = f" (resolved {row[4]})" if row[4] else ""
        found[(row[0], row[1])].append(f"{row[2]}: {row[3]}{resolved}")
    return found


def id_span(conn: Connection, start: str, end: str) -> tuple[int, int] | None:
    """The smallest and largest row ids of the ratings with a corrected time
    in ``[start, end)`` (UTC text), or ``None`` when there are none: read from
    the ratings' time index, so the pages below scan only that stretch of the table."""
    records = tables.records
    row = conn.execute(select(func.min(records.c.id), func.max(records.c.id))
                       .where(records.c.kind == _RATING, records.c.corrected_time >= start,
                              records.c.corrected_time < end)).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


def details_count(conn: Connection) -> int:
    """How many details records are stored."""
    records = tables.records
    return conn.execute(select(func.count()).select_from(records).where(records.c.kind == _DETAILS)).scalar() or 0


def details_rating_uuids(conn: Connection, batch: int = 5_000) -> Iterator[str]:
    """The rating UUID of every details record, read from their covering index
    a batch at a time (only the UUIDs, never a body)."""
    records = tables.records
    cursor = conn.execute(select(records.c.rating_uuid).where(records.c.kind == _DETAILS,
                                                              records.c.rating_uuid.is_not(None))).cursor
    while rows := cursor.fetchmany(batch):
        for row in rows:
            yield row[0]


# Whole numbers the CSV writes as text: the database turns them into text
# (an empty one for a missing number) for less work per rating in Python.
_AS_TEXT = ("seq", "score", "scale")


def rating_window(conn: Connection, start: str, end: str, after_id: int, upto_id: int, *,
                  as_text: bool = False) -> Sequence[Any]:
    """The ratings with a corrected time in ``[start, end)`` (UTC text) and a
    row id in ``(after_id, upto_id]``, in the order they were stored, as
    :data:`RATING_COLUMNS` (``as_text``: the sequence number, score and
    scale as text, empty when missing).

    A window of row ids, not a count of rows, bounds the read: the table is
    read in its own order, with no sorting (far cheaper than in time order
    for a large export)."""
    records = tables.records
    columns = [func.coalesce(cast(records.c[name], Text), "") if as_text and name in _AS_TEXT else records.c[name]
               for name in RATING_COLUMNS]
    query = (select(*columns)
             .where(records.c.kind == _RATING, records.c.id > after_id, records.c.id <= upto_id,
                    records.c.corrected_time >= start, records.c.corrected_time < end)
             .order_by(records.c.id))
    # Straight from the driver: building a Row per rating would cost more
    # than the database's own work. Values are the driver's plain ones
    # (SQLite gives 0/1 for booleans).
    return conn.execute(query).cursor.fetchall()


def details_of(conn: Connection, rating_uuids: Sequence[str], batch: int = 500) -> Sequence[Any]:
    """The details records added to these ratings, as (rating UUID, row id,
    ``reasons`` JSON text, ``callback_requested``, device id), found through
    their covering index. A rating's details are those of its own device."""
    records = tables.records
    query = (select(records.c.rating_uuid, records.c.id, records.c.reasons, records.c.callback_requested,
                    records.c.device_id)
             .where(records.c.kind == _DETAILS, records.c.rating_uuid.in_(bindparam("uuids", expanding=True))))
    found: list[Any] = []
    for first in range(0, len(rating_uuids), batch):
        found.extend(conn.execute(query, {"uuids": list(rating_uuids[first:first + batch])}).cursor.fetchall())
    return found
