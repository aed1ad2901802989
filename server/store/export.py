"""The queries of the ratings export: the ratings of a range a page at a
time with the details records attached to them (so an export of any size
holds one page in memory), and the findings by their place in a chain. No
query here reads a details record's body: it holds the citizen's phone
number, which no export carries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, literal_column, select

from server.store import tables

__all__ = ["findings_by_place", "id_span", "rating_page", "RATING_COLUMNS"]

# A bound parameter would hide from the database that these rows are in the
# partial indexes on ratings and details (see tables.RATING_INDEXES).
_RATING = literal_column("'rating'")
_DETAILS = literal_column("'details'")

RATING_COLUMNS = (
    "id", "device_id", "seq", "uuid", "officer_id", "counter_id", "score", "scale", "level", "device_time",
    "corrected_time", "time_method", "clock_offset_s", "received_at", "flags",
)
"""The columns of each row :func:`rating_page` returns, in this order."""


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


def rating_page(conn: Connection, start: str, end: str, after_id: int, last_id: int,
                limit: int) -> Sequence[Any]:
    """Up to ``limit`` ratings with a corrected time in ``[start, end)`` (UTC
    text) and a row id in ``(after_id, last_id]``, in the order they were
    stored, each followed by the reasons and call-back request of every
    details record added to it. Rows hold :data:`RATING_COLUMNS` then
    ``reasons`` (JSON text) and ``callback_requested``; a rating without
    details comes once with both ``None``.

    The table is read in its own order, which is far cheaper than in time
    order for a large export; the details are found through their covering
    index, in the same statement."""
    records = tables.records
    page = (select(*(records.c[name] for name in RATING_COLUMNS))
            .where(records.c.kind == _RATING, records.c.id > after_id, records.c.id <= last_id,
                   records.c.corrected_time >= start, records.c.corrected_time < end)
            .order_by(records.c.id).limit(limit)
            .with_hint(records, "NOT INDEXED", "sqlite")
            .subquery("page"))
    details = records.alias("details")
    query = (select(page, details.c.reasons, details.c.callback_requested)
             .select_from(page.outerjoin(details, and_(details.c.rating_uuid == page.c.uuid,
                                                       details.c.kind == _DETAILS)))
             .order_by(page.c.id, details.c.id))
    # Straight from the driver: building a Row per rating would cost more
    # than the database's own work. Values are the driver's plain ones
    # (SQLite gives 0/1 for booleans).
    return conn.execute(query).cursor.fetchall()
