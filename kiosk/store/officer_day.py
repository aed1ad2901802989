"""The officer's day reads: one officer's ratings by the tablet's own date.

A rating's date is the start of its ``device_time``
(``2026-01-05T08:00:00.000+07:00`` belongs to 5 January). Because that text
starts with the date, a range of days is a range of strings, which SQLite
answers from the journal's ``(kind, officer_id, device_time)`` index without
reading other officers' rows; reasons and call-back counts follow ``rating_uuid``'s
index. A tablet with a hundred thousand ratings answers as fast as one with
a hundred. Simulated ratings are never counted. A rating the citizen
corrected within the window counts at its corrected level (the first
correction; the journal keeps both records).
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from kiosk.store.database import TabletDatabase
from sync.record import KIND_CORRECTION, KIND_DETAILS, KIND_RATING

__all__ = ["DayLevelCount", "OfficerDayReads"]

# Ratings of this officer taken in [start, end) by the device's own date;
# simulated ones are left out by a filter on the rows the index found.
_RANGE = (
    "r.kind = :rating AND r.officer_id = :officer "
    "AND r.device_time >= :start AND r.device_time < :end AND r.simulated = 0"
)
# The level that stands: the rating's first correction's, else its own (found
# through the rating_uuid index, one row per rating).
_LEVEL = (
    "coalesce((SELECT c.level FROM journal c WHERE c.rating_uuid = r.uuid AND c.kind = :correction "
    "ORDER BY c.seq LIMIT 1), r.level)"
)


class DayLevelCount(NamedTuple):
    """How many of an officer's ratings of one day had one level."""

    day: str
    """The device's date, ``YYYY-MM-DD``."""
    level: str
    count: int
    bursts: int
    """How many of them were flagged as repeated presses."""


class OfficerDayReads:
    """The officer's-day queries on one tablet database."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def levels_by_day(self, officer_id: str, start: date, end: date) -> list[DayLevelCount]:
        """Ratings of ``officer_id`` from ``start`` up to (not including)
        ``end``, counted per day and level."""
        return [
            DayLevelCount(day, level, n, int(bursts))
            for day, level, n, bursts in self.database.conn.execute(
                f"SELECT substr(r.device_time, 1, 10) AS day, {_LEVEL} AS standing, count(*), total(r.burst) "
                f"FROM journal r WHERE {_RANGE} GROUP BY day, standing",
                _params(officer_id, start, end),
            ).fetchall()
        ]

    def reasons(self, officer_id: str, start: date, end: date) -> list[tuple[str, int]]:
        """Reason id and how many of the officer's ratings in ``[start, end)``
        gave it, most frequent first."""
        # A reason counts once per rating, even if the citizen's details came in
        # two records. CROSS JOIN keeps SQLite's join order: the day's ratings
        # first (a few rows from the index), then their details by rating_uuid,
        # instead of walking every details record the tablet ever wrote.
        return [
            (reason, n)
            for reason, n in self.database.conn.execute(
                "SELECT je.value AS reason, count(DISTINCT r.uuid) AS n "
                "FROM journal r "
                "CROSS JOIN journal d ON d.rating_uuid = r.uuid AND d.kind = :details "
                "JOIN json_each(d.reasons) je "
                f"WHERE {_RANGE} GROUP BY je.value ORDER BY n DESC, je.value",
                _params(officer_id, start, end),
            ).fetchall()
        ]

    def callback_count(self, officer_id: str, start: date, end: date) -> int:
        """How many of the officer's ratings in ``[start, end)`` came with a
        call-back request (a number given with consent). Only the count: the
        rated officer never sees who asked, nor any number."""
        return self.database.conn.execute(
            "SELECT count(DISTINCT r.uuid) "
            "FROM journal r "
            "CROSS JOIN journal d ON d.rating_uuid = r.uuid AND d.kind = :details "
            f"WHERE {_RANGE} AND d.callback_consent = 1",
            _params(officer_id, start, end),
        ).fetchone()[0]


def _params(officer_id: str, start: date, end: date) -> dict[str, Any]:
    return {
        "rating": KIND_RATING,
        "details": KIND_DETAILS,
        "correction": KIND_CORRECTION,
        "officer": officer_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
