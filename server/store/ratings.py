"""The queries behind the dashboard's figures: ratings counted by local day,
officer, level and the categories they are counted apart for, the reasons
given with them, and the devices with an open chain finding.

Days are the commune's local days. A period is cut where its time zone's UTC
offset changes (:meth:`server.scores.Period.segments`), and within each
stretch the local day is the stored UTC time plus that offset: on SQLite
each local day is counted by its own statement (its bounds give its day),
on PostgreSQL the database works it out per row (timestamp arithmetic). The
counts come grouped small (a few thousand groups for a month); the
exclusion switches are applied afterwards by :mod:`server.scores`, so every
switch setting comes from the one query.

Ratings are found through the indexes of :data:`server.store.tables.RATING_INDEXES`,
which hold every column counted here: the tests on ``kind`` are written as
literals, as a partial index requires.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import TIMESTAMP, Connection, and_, bindparam, case, cast, func, literal_column, select

from server.clock import utc_text
from server.scores import AT_HOME, Period, RatingGroup, ReasonGroup
from server.store import tables
from server.store.home_visits import HOME_DEVICE_ID

__all__ = ["rating_groups", "reason_groups", "open_chain_devices", "officer_names", "counter_names",
           "first_and_last_rating", "flag_columns", "categories_of"]

_RATING = literal_column("'rating'")
_LEVEL = tables.standing_level(tables.records).label("level")
_DETAILS = literal_column("'details'")


def open_chain_devices(conn: Connection) -> set[str]:
    """Devices with a finding about their chain that is still open."""
    findings = tables.findings
    return {row[0] for row in conn.execute(select(findings.c.device_id).where(findings.c.resolved_at.is_(None))
                                           .distinct())}


def _local_day(conn: Connection, column: Any, offset_s: int) -> Any:
    """The local day (``YYYY-MM-DD`` text) of a stored UTC time, ``offset_s`` ahead of UTC."""
    if conn.dialect.name == "postgresql":
        # The stored text ends in +00:00; as a timestamp without time zone it is the UTC wall time.
        shifted = cast(column, TIMESTAMP) + literal_column(f"INTERVAL '{int(offset_s)} seconds'")
        return func.to_char(shifted, "YYYY-MM-DD")
    return func.date(column, f"{int(offset_s):+d} seconds")


def _clock_off(column: Any) -> Any:
    return case((column.like("%clock_off%"), 1), else_=0)


def flag_columns(records: Any) -> tuple[Any, Any, Any]:
    """1 or 0 per rating for each flag counted apart: simulated, burst, clock off
    (the clock-off column also says, as 2, 4 and 8 added on, a repeated
    dossier and a correction, so the grouping keeps its width)."""
    burst = case((records.c.burst.is_(True), 1), (records.c.flags.like("%burst%"), 1), else_=0)
    simulated = case((records.c.simulated.is_(True), 1), else_=0)
    marks = (_clock_off(records.c.flags) + case((records.c.flags.like("%repeat_dossier%"), 2), else_=0)
             + case((records.c.corrected_level.is_not(None), 4), else_=0))
    return simulated, burst, marks


def categories_of(simulated: Any, burst: Any, marks: Any, device_id: str, chained: Collection[str]) -> frozenset[str]:
    """The categories a group of ratings is counted apart for, from the
    :func:`flag_columns` of a row and its device (``chained``: the devices
    with an open chain finding; the reserved source of home visits gives
    ``at_home``)."""
    found = []
    marks = int(marks or 0)
    clock_off = marks & 1
    if marks & 2:
        found.append("repeat_dossier")
    if marks & 4:
        found.append("corrected")
    if burst:
        found.append("burst")
    if simulated:
        found.append("simulated")
    if clock_off:
        found.append("clock_off")
    if device_id in chained:
        found.append("chain")
    if device_id == HOME_DEVICE_ID:
        found.append(AT_HOME)
    return frozenset(found)


def _stretches(conn: Connection, period: Period, column: Any) -> Iterator[tuple[Any, dict[str, str], date | None]]:
    """The period cut into stretches, each as (local day expression, the
    stretch's ``lo``/``hi`` bounds in UTC text, the stretch's local day).

    SQLite groups by sorting every row; sorting a day's ratings at a time
    costs half as much as sorting a year's at once, and the day is then known
    without working it out per row: there a stretch is one local day (of a
    segment) and its day is given. PostgreSQL groups by hashing: there a
    stretch is a whole segment and the day is worked out per row."""
    for segment in period.segments():
        if conn.dialect.name != "sqlite":
            yield (_local_day(conn, column, segment.offset_s),
                   {"lo": utc_text(segment.start), "hi": utc_text(segment.end)}, None)
            continue
        offset = timedelta(seconds=segment.offset_s)
        day = (segment.start + offset).date()
        while True:
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - offset
            low = max(segment.start, midnight)
            high = min(segment.end, midnight + timedelta(days=1))
            if low >= segment.end:
                break
            yield literal_column("NULL"), {"lo": utc_text(low), "hi": utc_text(high)}, day
            day += timedelta(days=1)


def _day_of(found: Any, day: date | None) -> date:
    return day if day is not None else date.fromisoformat(found)


def rating_groups(conn: Connection, period: Period, *, officer_id: str | None = None,
                  chained: Collection[str] | None = None) -> list[RatingGroup]:
    """The period's ratings (one officer's, when given), grouped by local day,
    officer, level and the categories they carry. ``chained`` are the devices
    with an open chain finding (looked up when not given)."""
    records = tables.records
    if chained is None:
        chained = open_chain_devices(conn)
    simulated, burst, clock_off = flag_columns(records)
    merged: dict[tuple, int] = {}
    queries: dict[str, Any] = {}
    for day_expr, bounds, day in _stretches(conn, period, records.c.corrected_time):
        # The same statement for every day of a stretch kind (SQLite's), built once.
        key = str(day_expr)
        if key not in queries:
            keys = (day_expr.label("day"), records.c.officer_id, _LEVEL, records.c.device_id,
                    simulated.label("sim"), burst.label("burst"), clock_off.label("clock_off"))
            group = ([] if day is not None else [day_expr]) + [records.c.officer_id, _LEVEL,
                                                              records.c.device_id, simulated, burst, clock_off]
            query = (select(*keys, func.count().label("n"))
                     .where(records.c.kind == _RATING, _in_bounds(records.c.corrected_time))
                     .group_by(*group))
            if officer_id is not None:
                query = query.where(records.c.officer_id == officer_id)
            queries[key] = query
        for row in conn.execute(queries[key], bounds):
            group_key = (_day_of(row[0], day), row[1], row[2], categories_of(row[4], row[5], row[6], row[3], chained))
            merged[group_key] = merged.get(group_key, 0) + row[7]
    return [RatingGroup(k[0], k[1], k[2], k[3], n) for k, n in merged.items()]


def reason_groups(conn: Connection, period: Period, *, officer_id: str | None = None,
                  chained: Collection[str] | None = None, by_day: bool = True) -> list[ReasonGroup]:
    """The reasons given with the period's ratings (one officer's, when
    given), grouped by the details' reasons, the rating's local day, officer,
    level and categories.

    ``by_day=False`` leaves the day out of the grouping (each group's day is
    then the period's first): far fewer groups, for figures that count the
    reasons of the whole period."""
    records = tables.records
    details = records.alias("details")
    if chained is None:
        chained = open_chain_devices(conn)
    simulated, burst, clock_off = flag_columns(records)
    merged: dict[tuple, int] = {}
    queries: dict[str, Any] = {}
    # The same few reason lists come back in every group: each is read once.
    parsed: dict[str | None, tuple[str, ...]] = {}
    stretches = (_stretches(conn, period, records.c.corrected_time) if by_day else
                 ((literal_column("NULL"), {"lo": utc_text(s.start), "hi": utc_text(s.end)}, period.first)
                  for s in period.segments()))
    for day_expr, bounds, day in stretches:
        key = str(day_expr)
        if key not in queries:
            keys = (details.c.reasons, day_expr.label("day"), records.c.officer_id, _LEVEL,
                    records.c.device_id, simulated.label("sim"), burst.label("burst"), clock_off.label("clock_off"))
            group = [details.c.reasons] + ([] if day is not None else [day_expr]) + [
                records.c.officer_id, _LEVEL, records.c.device_id, simulated, burst, clock_off]
            query = (select(*keys, func.count().label("n"))
                     .select_from(records.join(details, and_(details.c.rating_uuid == records.c.uuid,
                                                             details.c.device_id == records.c.device_id,
                                                             details.c.kind == _DETAILS)))
                     .where(records.c.kind == _RATING, _in_bounds(records.c.corrected_time),
                            details.c.reasons.is_not(None))
                     .group_by(*group))
            if officer_id is not None:
                query = query.where(records.c.officer_id == officer_id)
            queries[key] = query
        for row in conn.execute(queries[key], bounds):
            reasons = parsed.get(row[0])
            if reasons is None:
                reasons = parsed[row[0]] = tuple(r for r in json.loads(row[0] or "[]") if isinstance(r, str))
            if not reasons:
                continue
            group_key = (reasons, _day_of(row[1], day), row[2], row[3],
                         categories_of(row[5], row[6], row[7], row[4], chained))
            merged[group_key] = merged.get(group_key, 0) + row[8]
    return [ReasonGroup(k[0], k[1], k[2], k[3], k[4], n) for k, n in merged.items()]


def _in_bounds(column: Any) -> Any:
    return and_(column >= bindparam("lo"), column < bindparam("hi"))


def _roster(conn: Connection) -> dict[str, Any]:
    body = conn.execute(select(tables.roster.c.body).where(tables.roster.c.id == 1)).scalar()
    return json.loads(body) if body else {}


def officer_names(conn: Connection) -> dict[str, str]:
    """Officers' names by id, from the current roster."""
    return {o["id"]: o["name"] for o in _roster(conn).get("officers", []) if "id" in o and "name" in o}


def counter_names(conn: Connection) -> dict[str, str]:
    """Counters' names by id, from the current roster."""
    return {c["id"]: c["name"] for c in _roster(conn).get("counters", []) if "id" in c and "name" in c}


def first_and_last_rating(conn: Connection) -> tuple[str, str] | None:
    """The corrected times (UTC text) of the first and last stored ratings, or ``None``."""
    records = tables.records
    row = conn.execute(select(func.min(records.c.corrected_time), func.max(records.c.corrected_time))
                       .where(records.c.kind == _RATING)).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None
