"""The queries behind the periodic reports (:mod:`server.reports` holds the
rules): the period's ratings by officer and level in two passes, the
follow-up cases opened in it, the comments written in it, each device's
chain as the server keeps it (its head, its counts, and its records streamed
in sequence order for the evidence archive to verify again), and the record
of the evidence archives made.

A report counts a whole period at once, never day by day, so the ratings
are counted without a sort of the period's rows: the first pass counts
every rating by officer (read in the officer index's own order, so SQLite
groups without sorting) and level; the second groups only the few ratings
that carry a flag or come from a device with an open chain finding, by
everything the exclusion rules look at. Their difference is the clean
ratings. Together they give the same :class:`~server.scores.RatingGroup`
list (without days) as :func:`server.store.ratings.rating_groups`, so the
board's exclusion rules apply unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Connection, Row, and_, case, false, func, literal_column, or_, select

from server.clock import utc_text
from server.scores import Period, RatingGroup, ReasonGroup
from server.store import settings as stored_settings
from server.store import tables
from server.store.ratings import categories_of, flag_columns
from server.store.records import FIELD_COLUMNS
from sync.scale import SCALES

__all__ = [
    "ARCHIVE_SETTING_PREFIX", "rating_count", "rating_totals", "reason_totals", "last_record_id", "rating_delta",
    "reason_delta",
    "case_counts", "comment_counts", "comment_texts",
    "device_chains", "period_seq_spans", "chain_rows", "next_rating_seq", "finding_places", "record_archive",
    "archives_made",
]

_RATING = literal_column("'rating'")
_LEVELS = tuple(dict.fromkeys(level.key for scale in SCALES.values() for level in scale.levels))
"""Every level key of every scale, counted one column each in the first pass."""

ARCHIVE_SETTING_PREFIX = "evidence_archive:"
"""The settings rows recording each period's evidence archive (by period code)."""


def _bounds(column: Any, period: Period) -> Any:
    return and_(column >= utc_text(period.start_utc), column < utc_text(period.end_utc))


def rating_count(conn: Connection, period: Period, *, officer_id: str | None = None) -> int:
    """How many ratings the period holds (one officer's, when given), from
    the ratings' covering index."""
    records = tables.records
    query = select(func.count()).select_from(records).where(records.c.kind == _RATING,
                                                             _bounds(records.c.corrected_time, period))
    if officer_id is not None:
        query = query.where(records.c.officer_id == officer_id)
    return conn.execute(query).scalar_one()


def rating_totals(conn: Connection, period: Period, *, officer_id: str | None = None,
                  chained: Collection[str] = ()) -> list[RatingGroup]:
    """The period's ratings (one officer's, when given), grouped by officer,
    level and the categories they carry; each group's day is the period's
    first. ``chained`` are the devices with an open chain finding."""
    records = tables.records
    where = [records.c.kind == _RATING, _bounds(records.c.corrected_time, period)]
    if officer_id is not None:
        where.append(records.c.officer_id == officer_id)
    # First pass: every rating, by officer and level (one column per known level).
    level_columns = [func.sum(case((tables.standing_level(records) == key, 1), else_=0)) for key in _LEVELS]
    totals: dict[tuple[str | None, str | None], int] = {}
    for row in conn.execute(select(records.c.officer_id, func.count(), *level_columns).where(*where)
                            .group_by(records.c.officer_id)):
        known = 0
        for key, count in zip(_LEVELS, row[2:], strict=True):
            if count:
                totals[(row[0], key)] = int(count)
                known += int(count)
        if row[1] > known:  # a level no scale knows: counted as unknown
            totals[(row[0], None)] = int(row[1]) - known
    # Second pass: the flagged few, by everything the exclusions look at.
    simulated, burst, clock_off = flag_columns(records)
    flagged = [records.c.simulated.is_(True), records.c.burst.is_(True), records.c.flags != ""]
    if chained:
        flagged.append(records.c.device_id.in_(sorted(chained)))
    keys = (records.c.officer_id, tables.standing_level(records), records.c.device_id, simulated, burst, clock_off)
    groups: dict[tuple, int] = {}
    for row in conn.execute(select(*keys, func.count()).where(*where, or_(*flagged)).group_by(*keys)):
        categories = categories_of(row[3], row[4], row[5], row[2], chained)
        level = row[1] if row[1] in _LEVELS else None
        if categories:
            groups[(row[0], level, categories)] = groups.get((row[0], level, categories), 0) + int(row[6])
            totals[(row[0], level)] = totals.get((row[0], level), 0) - int(row[6])
    for (officer, level), count in totals.items():
        if count > 0:
            groups[(officer, level, frozenset())] = groups.get((officer, level, frozenset()), 0) + count
    return [RatingGroup(period.first, officer, level, categories, count)
            for (officer, level, categories), count in groups.items()]


def reason_totals(conn: Connection, period: Period, *, officer_id: str | None = None,
                  chained: Collection[str] = (), ratings: int | None = None,
                  ids: tuple[int, int] | None = None) -> list[ReasonGroup]:
    """The reasons given with the period's ratings (one officer's, when
    given), grouped by the details' reasons, the rating's officer, level and
    categories; each group's day is the period's first.

    ``ratings`` (how many ratings the period holds, when known) picks the
    way in: a short period is read from its ratings, each looking for its
    details; a long one from the details (far fewer than a year's ratings),
    each looking up its rating. SQLite would take the first way for both; on
    it the second is chosen by keeping the time index out of the join (a
    unary ``+`` on the rating's time).

    ``ids`` (first and last, inclusive) counts only the details with a row
    id in that stretch, and ratings up to its last: a caller can divide the
    work, or count what one snapshot held."""
    records = tables.records
    rating, details = records.alias("r"), records.alias("d")
    from_details = False
    if ratings is not None and conn.dialect.name == "sqlite":
        with_reasons = conn.execute(select(func.count()).select_from(details).where(
            details.c.kind == literal_column("'details'"), details.c.reasons.is_not(None))).scalar_one()
        from_details = with_reasons < ratings
    time_column: Any = literal_column("+r.corrected_time") if from_details else rating.c.corrected_time
    simulated, burst, clock_off = flag_columns(rating)
    keys = (details.c.reasons, rating.c.officer_id, tables.standing_level(rating), rating.c.device_id,
            simulated, burst, clock_off)
    where = [rating.c.kind == _RATING, time_column >= utc_text(period.start_utc),
             time_column < utc_text(period.end_utc), details.c.kind == literal_column("'details'"),
             details.c.reasons.is_not(None)]
    if officer_id is not None:
        where.append(rating.c.officer_id == officer_id)
    if ids is not None:
        # Unary + keep SQLite on the details' covering index rather than a
        # range of the table's rows.
        where += [literal_column("+d.id").between(*ids), literal_column("+r.id") <= ids[1]]
    # A rating's details are its own device's (a UUID is unique per device only).
    own = rating.c.device_id == details.c.device_id
    joined = (details.join(rating, (rating.c.uuid == details.c.rating_uuid) & own) if from_details
              else rating.join(details, (details.c.rating_uuid == rating.c.uuid) & own))
    # The reasons' text last: sorting by the short keys first is cheaper.
    query = select(*keys, func.count()).select_from(joined).where(*where).group_by(*keys[1:], keys[0])
    parsed: dict[str | None, tuple[str, ...]] = {}
    merged: dict[tuple, int] = {}
    for row in conn.execute(query):
        reasons = parsed.get(row[0])
        if reasons is None:
            reasons = parsed[row[0]] = tuple(r for r in json.loads(row[0] or "[]") if isinstance(r, str))
        if not reasons:
            continue
        key = (reasons, row[1], row[2], categories_of(row[4], row[5], row[6], row[3], chained))
        merged[key] = merged.get(key, 0) + int(row[7])
    return [ReasonGroup(k[0], period.first, k[1], k[2], k[3], n) for k, n in merged.items()]


def last_record_id(conn: Connection) -> int:
    """The highest row id of ``records`` (0 when empty): records are never
    changed nor deleted, so what is counted up to it stays counted."""
    return int(conn.execute(select(func.max(tables.records.c.id))).scalar() or 0)


def rating_delta(conn: Connection, period: Period, *, after_id: int, officer_id: str | None = None,
                 chained: Collection[str] = ()) -> list[RatingGroup]:
    """The period's ratings stored after row ``after_id`` (read by row id,
    few), grouped as :func:`rating_totals` groups them."""
    records = tables.records
    simulated, burst, clock_off = flag_columns(records)
    # The unary + keep the time and officer indexes out: the new rows are found by their row id.
    stamp = literal_column("+records.corrected_time")
    keys = (records.c.officer_id, tables.standing_level(records), records.c.device_id, simulated, burst, clock_off)
    query = (select(*keys, func.count()).where(records.c.id > after_id, literal_column("+records.kind") == _RATING,
                                              stamp >= utc_text(period.start_utc), stamp < utc_text(period.end_utc))
             .group_by(*keys))
    if officer_id is not None:
        query = query.where(records.c.officer_id == officer_id)
    groups: dict[tuple, int] = {}
    for row in conn.execute(query):
        key = (row[0], row[1] if row[1] in _LEVELS else None, categories_of(row[3], row[4], row[5], row[2], chained))
        groups[key] = groups.get(key, 0) + int(row[6])
    _corrected_since(conn, period, after_id, officer_id, chained, groups)
    return [RatingGroup(period.first, k[0], k[1], k[2], n) for k, n in groups.items() if n]


def _corrected_since(conn: Connection, period: Period, after_id: int, officer_id: str | None,
                     chained: Collection[str], groups: dict[tuple, int]) -> None:
    """Ratings counted up to row ``after_id`` whose correction came after it
    (server.corrections sets the rating's row then): moved from the level
    they were counted at to the corrected one."""
    records = tables.records
    rating, correction = records.alias("r"), records.alias("c")
    simulated, burst, marks = flag_columns(rating)
    stamp = literal_column("+r.corrected_time")
    query = (select(rating.c.officer_id, rating.c.level, rating.c.corrected_level, rating.c.device_id,
                    simulated, burst, marks)
             .select_from(correction.join(rating, and_(rating.c.uuid == correction.c.rating_uuid,
                                                       rating.c.device_id == correction.c.device_id)))
             .where(correction.c.id > after_id, literal_column("+c.kind") == literal_column("'correction'"),
                    correction.c.flags.not_like("%correction_refused%"), rating.c.id <= after_id,
                    rating.c.kind == _RATING, rating.c.corrected_level == correction.c.level,
                    stamp >= utc_text(period.start_utc), stamp < utc_text(period.end_utc)))
    if officer_id is not None:
        query = query.where(rating.c.officer_id == officer_id)
    for officer, level, corrected, device, sim, bur, mark in conn.execute(query):
        now = categories_of(sim, bur, mark, device, chained)
        before = (officer, level if level in _LEVELS else None, now - {"corrected"})
        after = (officer, corrected if corrected in _LEVELS else None, now)
        groups[before] = groups.get(before, 0) - 1
        groups[after] = groups.get(after, 0) + 1


def reason_delta(conn: Connection, period: Period, *, after_id: int, officer_id: str | None = None,
                 chained: Collection[str] = ()) -> list[ReasonGroup]:
    """The reasons of the period's ratings that were not counted up to row
    ``after_id``: details stored after it (whenever their rating was), and
    ratings stored after it whose details came before (a gap filled late)."""
    records = tables.records
    rating, details = records.alias("r"), records.alias("d")
    simulated, burst, clock_off = flag_columns(rating)
    keys = (details.c.reasons, rating.c.officer_id, tables.standing_level(rating), rating.c.device_id,
            simulated, burst, clock_off)
    # Unary + keep SQLite off the indexes that would read the whole period:
    # the new rows are found by row id, their partners by UUID.
    stamp = literal_column("+r.corrected_time")
    common = [details.c.reasons.is_not(None), stamp >= utc_text(period.start_utc), stamp < utc_text(period.end_utc)]
    if officer_id is not None:
        common.append(rating.c.officer_id == officer_id)
    new_details = (select(*keys, func.count())
                   .select_from(details.join(rating, (rating.c.uuid == details.c.rating_uuid)
                                             & (rating.c.device_id == details.c.device_id)))
                   .where(details.c.id > after_id, literal_column("+d.kind") == literal_column("'details'"),
                          rating.c.kind == _RATING, *common).group_by(*keys))
    new_ratings = (select(*keys, func.count())
                   .select_from(rating.join(details, (details.c.rating_uuid == literal_column("+r.uuid"))
                                             & (details.c.device_id == rating.c.device_id)))
                   .where(rating.c.id > after_id, literal_column("+r.kind") == _RATING, details.c.id <= after_id,
                          details.c.kind == literal_column("'details'"), *common).group_by(*keys))
    merged: dict[tuple, int] = {}
    for query in (new_details, new_ratings):
        for row in conn.execute(query):
            reasons = tuple(r for r in json.loads(row[0] or "[]") if isinstance(r, str))
            if reasons:
                key = (reasons, row[1], row[2], categories_of(row[4], row[5], row[6], row[3], chained))
                merged[key] = merged.get(key, 0) + int(row[7])
    return [ReasonGroup(k[0], period.first, k[1], k[2], k[3], n) for k, n in merged.items()]


def case_counts(conn: Connection, period: Period, *, now_text: str, officer_id: str | None = None
                ) -> list[dict[str, Any]]:
    """The follow-up cases opened in the period (about one officer, when
    given), counted by cause, status, outcome, whether resolved by their due
    time, and whether still open past it at ``now_text``."""
    cases = tables.cases
    on_time = case((and_(cases.c.resolved_at.is_not(None), cases.c.resolved_at < cases.c.due_at), 1), else_=0)
    overdue = case((and_(cases.c.resolved_at.is_(None), cases.c.due_at <= now_text), 1), else_=0)
    keys = (cases.c.cause, cases.c.status, cases.c.outcome, on_time.label("on_time"), overdue.label("overdue"))
    query = select(*keys, func.count().label("n")).where(_bounds(cases.c.opened_at, period)).group_by(*keys)
    if officer_id is not None:
        query = query.where(cases.c.officer_id == officer_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def _comments_in(period: Period, officer_id: str | None) -> tuple[Any, list[Any]]:
    comments, records = tables.comments, tables.records
    source = comments.outerjoin(records, and_(records.c.uuid == comments.c.rating_uuid, records.c.kind == _RATING))
    where = [_bounds(comments.c.created_at, period)]
    if officer_id is not None:
        where.append(records.c.officer_id == officer_id)
    return source, where


def comment_counts(conn: Connection, period: Period, *, officer_id: str | None = None) -> dict[str, int]:
    """Comments written in the period by kind (``rating``, ``suggestion``);
    for one officer, only the comments on their ratings."""
    source, where = _comments_in(period, officer_id)
    kind = tables.comments.c.kind
    query = select(kind, func.count()).select_from(source).where(*where).group_by(kind)
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def comment_texts(conn: Connection, period: Period, *, officer_id: str | None = None,
                  limit: int = 500) -> list[dict[str, Any]]:
    """The texts of the comments written in the period that are not erased,
    oldest first, with their kind and their rating's officer and level.
    Never the name, the phone number or the address digest."""
    comments, records = tables.comments, tables.records
    source, where = _comments_in(period, officer_id)
    query = (select(comments.c.kind, comments.c.text, comments.c.created_at, records.c.officer_id,
                    tables.standing_level(records))
             .select_from(source).where(*where, comments.c.text.is_not(None))
             .order_by(comments.c.created_at, comments.c.id).limit(limit))
    return [dict(row) for row in conn.execute(query).mappings()]


def device_chains(conn: Connection) -> list[dict[str, Any]]:
    """Each device's chain as the server holds it: its head (sequence and
    hash), the records it says were stored, what the records table holds
    (count, highest sequence, the hash of the head record), where its sealing
    began and how far its seals were verified (never the key), and its open findings."""
    devices, records, findings = tables.devices, tables.records, tables.findings
    stored = {row[0]: (int(row[1]), row[2]) for row in conn.execute(
        select(records.c.device_id, func.count(), func.max(records.c.seq)).group_by(records.c.device_id))}
    open_findings: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(select(findings.c.device_id, findings.c.seq, findings.c.problem, findings.c.detail,
                                   findings.c.found_at)
                            .where(findings.c.resolved_at.is_(None)).order_by(findings.c.id)).mappings():
        open_findings.setdefault(row["device_id"], []).append(dict(row))
    result = []
    for row in conn.execute(select(devices.c.device_id, devices.c.label, devices.c.status, devices.c.head_seq,
                                   devices.c.head_hash, devices.c.records_count, devices.c.seal_first_seq,
                                   devices.c.seal_seq)
                            .order_by(devices.c.device_id)).mappings():
        head = conn.execute(select(records.c.hash).where(records.c.device_id == row["device_id"],
                                                         records.c.seq == row["head_seq"])).scalar()
        count, max_seq = stored.get(row["device_id"], (0, None))
        result.append({**dict(row), "stored_count": count, "stored_max_seq": max_seq,
                       "head_record_hash": bytes(head).hex() if head is not None else None,
                       "open_findings": open_findings.get(row["device_id"], [])})
    return result


def period_seq_spans(conn: Connection, period: Period) -> dict[str, tuple[int, int]]:
    """Per device, the lowest and highest sequence number of its ratings in
    the period (found through the ratings' time index)."""
    records = tables.records
    query = (select(records.c.device_id, func.min(records.c.seq), func.max(records.c.seq))
             .where(records.c.kind == _RATING, _bounds(records.c.corrected_time, period))
             .group_by(records.c.device_id))
    return {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)}


CHAIN_BATCH = 5_000
"""Rows fetched at a time while a chain is streamed: memory stays flat however long the chain."""


def chain_rows(conn: Connection, device_id: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[Row]:
    """A device's stored records from ``first_seq`` to ``last_seq`` (to its
    last, when None), in sequence order, each row holding the
    :data:`~server.store.records.FIELD_COLUMNS` in their order; streamed
    (read through the ``(device_id, seq)`` key, a batch of rows at a time)."""
    records = tables.records
    query = select(*FIELD_COLUMNS).where(records.c.device_id == device_id, records.c.seq >= first_seq)
    if last_seq is not None:
        query = query.where(records.c.seq <= last_seq)
    result = conn.execution_options(yield_per=CHAIN_BATCH).execute(query.order_by(records.c.seq))
    try:
        yield from result
    finally:
        result.close()


def next_rating_seq(conn: Connection, device_id: str, after_seq: int) -> int | None:
    """The sequence number of the device's first rating after ``after_seq``
    (None: none yet), read forward through the ``(device_id, seq)`` key."""
    records = tables.records
    # In the key's order, the first one found: never a scan of the rest of the chain.
    return conn.execute(select(records.c.seq).where(
        records.c.device_id == device_id, records.c.seq > after_seq, records.c.kind == _RATING)
        .order_by(records.c.seq).limit(1)).scalar()


def finding_places(conn: Connection) -> dict[str, set[tuple[int, str]]]:
    """Every chain finding the server ever noted (open or resolved), as
    (sequence number, problem) by device."""
    findings = tables.findings
    places: dict[str, set[tuple[int, str]]] = {}
    for device_id, seq, problem in conn.execute(select(findings.c.device_id, findings.c.seq, findings.c.problem)):
        if seq is not None:
            places.setdefault(device_id, set()).add((int(seq), problem))
    return places


def record_archive(conn: Connection, code: str, made: dict[str, Any], *, stamp: str) -> None:
    """Note that the evidence archive of the period ``code`` was made (the
    last one made stands)."""
    stored_settings.put_setting(conn, ARCHIVE_SETTING_PREFIX + code, made, stamp=stamp)


def archives_made(conn: Connection, codes: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """The evidence archives made, by period code (only ``codes``, when given)."""
    settings = tables.settings
    query = select(settings.c.key, settings.c.value)
    if codes is not None:
        keys = [ARCHIVE_SETTING_PREFIX + code for code in codes]
        query = query.where(settings.c.key.in_(keys) if keys else false())
    else:
        query = query.where(settings.c.key.like(ARCHIVE_SETTING_PREFIX + "%"))
    return {row[0][len(ARCHIVE_SETTING_PREFIX):]: json.loads(row[1]) for row in conn.execute(query)}
