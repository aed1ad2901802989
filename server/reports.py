"""The periodic reports of the plans: for a period (week, month, quarter,
6 months, year or any range of local days) and for the commune or one
officer, the figures a report holds, the reminder ahead of the reporting
deadlines, and the period codes the archive command takes. Rules only: the
SQL is in :mod:`server.store.reports`, the files in :mod:`server.report_files`,
the pages in :mod:`server.web.reports`.

A report holds

* the number of ratings, their distribution by level, the satisfaction rate
  with its n and 95% Wilson interval, and the ratings counted apart (burst,
  simulated, clock off, chain) under the same exclusion rules as the board
  (:class:`server.scores.Exclusions`);
* the reasons under the plans' headings ("5 biết", "3 thể hiện", the 4 aims);
* for the commune, every officer's figures and place in the ranking;
* the comments written in the period: their number, and their texts only in
  the leaders' version (``with_comment_texts``) — never a name or a phone number;
* the follow-up: cases opened in the period, resolved, resolved by their due
  date, still open past it, and (for the commune) the letters issued.

The plans ask for a report every 6 months and every year, sent before
15 June and 15 December (:data:`DEADLINES`): the June report covers the first
6 months of the year, the December one the year. :func:`due_reminder` says,
from :data:`REMINDER_DAYS_BEFORE` days before a deadline, that the report is
due, until the period's evidence archive has been made.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from server import letters
from server.cases import CaseOutcome, CaseStatus, Cause
from server.clock import utc_now, utc_text
from server.i18n import Translate, day_in_words
from server.scores import (
    Exclusions,
    Figures,
    HeadingCount,
    Period,
    PeriodKind,
    Ranking,
    RatingGroup,
    ReasonGroup,
    ReasonTally,
    heading_counts,
    rank,
    reason_counts,
    tally,
    tally_by,
)
from server.settings import ServerSettings, load_settings
from server.store import ratings as stored_ratings
from server.store import read_transaction
from server.store import reports as stored

__all__ = [
    "REPORT_KINDS", "DEADLINES", "REMINDER_DAYS_BEFORE", "REMINDER_DAYS_AFTER", "FollowUp", "CommentText",
    "Comments", "Report", "build_report", "period_code", "parse_period", "period_label", "Reminder",
    "due_reminder", "reminder_for", "forget_counts",
]

REPORT_KINDS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF, PeriodKind.YEAR,
                PeriodKind.RANGE)
"""The periods a report is made for (a day is the board's, not a report's)."""

DEADLINES: tuple[tuple[int, int, PeriodKind], ...] = ((6, 15, PeriodKind.HALF), (12, 15, PeriodKind.YEAR))
"""(month, day, the period reported): the 6-month report before 15 June (the
first half of the year), the yearly report before 15 December."""

REMINDER_DAYS_BEFORE = 20
"""How many days before a deadline the dashboard starts reminding leaders."""
REMINDER_DAYS_AFTER = 31
"""How long after a missed deadline the reminder stays (it says it is late)."""


@dataclass(frozen=True)
class FollowUp:
    """What was done about the period's low ratings and call-backs."""

    opened: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    """Resolved before the end of their due day."""
    still_open: int = 0
    overdue: int = 0
    """Still open past their due day when the report was made."""
    by_cause: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    letters: dict[str, int] | None = None
    """Letters issued in the period by kind (``apology``, ``thanks``); None
    in an officer's report (letters are the commune's)."""

    @property
    def resolved_late(self) -> int:
        """Resolved after their due day."""
        return self.resolved - self.resolved_on_time


@dataclass(frozen=True)
class CommentText:
    """A comment's text as a report may show it: when, about which officer
    and level (a suggestion has neither), never who wrote it."""

    kind: str
    written_at: str
    officer_id: str | None
    level: str | None
    text: str


@dataclass(frozen=True)
class Comments:
    """The comments written in the period."""

    on_ratings: int
    suggestions: int
    texts: tuple[CommentText, ...] = ()
    """Only in the leaders' version."""

    @property
    def total(self) -> int:
        return self.on_ratings + self.suggestions


@dataclass(frozen=True)
class Report:
    """The figures of a report, ready for its writers and pages."""

    period: Period
    officer_id: str | None
    """None: the commune's report."""
    names: dict[str, str]
    exclusions: Exclusions
    made_at: datetime
    figures: Figures
    officers: dict[str, Figures]
    """The commune's report: every officer of the roster and any other rated; empty for an officer's."""
    ranking: Ranking | None
    reasons: dict[str, ReasonTally]
    headings: list[HeadingCount]
    comments: Comments
    follow_up: FollowUp
    with_comment_texts: bool

    @property
    def officer_name(self) -> str | None:
        """The officer's name (an officer's report), else None."""
        return self.names.get(self.officer_id, self.officer_id) if self.officer_id else None


def build_report(engine: Engine, period: Period, *, officer_id: str | None = None,
                 exclusions: Exclusions = Exclusions(), with_comment_texts: bool = False,
                 settings: ServerSettings | None = None, now: datetime | None = None) -> Report:
    """The report of ``period``, for the commune or for ``officer_id``, in
    one read transaction (and the letters' count for the commune's)."""
    settings = settings or load_settings(engine)
    now = now or utc_now()
    with read_transaction(engine) as conn:
        chained = stored_ratings.open_chain_devices(conn)
        groups, reasons = _counted(engine, conn, period, officer_id, frozenset(chained))
        names = stored_ratings.officer_names(conn)
        case_rows = stored.case_counts(conn, period, now_text=utc_text(now), officer_id=officer_id)
        comment_counts = stored.comment_counts(conn, period, officer_id=officer_id)
        texts = stored.comment_texts(conn, period, officer_id=officer_id) if with_comment_texts else []
    issued = letters.count_issued(engine, period.start_utc, period.end_utc) if officer_id is None else None
    officers: dict[str, Figures] = {}
    ranking = None
    if officer_id is None:
        officers = {oid: Figures() for oid in names}
        officers.update(tally_by(groups, lambda g: g.officer_id, exclusions))
        ranking = rank({oid: f.rate for oid, f in officers.items()}, settings.rank_min_ratings)
    counts = reason_counts(reasons, exclusions)
    return Report(
        period=period, officer_id=officer_id, names=names, exclusions=exclusions, made_at=now,
        figures=tally(groups, exclusions), officers=officers, ranking=ranking, reasons=counts,
        headings=heading_counts(counts),
        comments=Comments(
            on_ratings=comment_counts.get("rating", 0), suggestions=comment_counts.get("suggestion", 0),
            texts=tuple(CommentText(kind=c["kind"], written_at=c["created_at"], officer_id=c["officer_id"],
                                    level=c["level"], text=c["text"]) for c in texts)),
        follow_up=_follow_up(case_rows, issued), with_comment_texts=with_comment_texts,
    )


# -- the ratings and reasons counted, kept for the next report --------------------------


@dataclass(frozen=True)
class _Counted:
    """A report's ratings and reasons as counted up to the records' row ``last_id``."""

    last_id: int
    ratings: dict[tuple, int]
    reasons: dict[tuple, int]


_KEPT = 16
"""Reports whose counts are kept per database (the most recently used)."""
_kept: WeakKeyDictionary[Engine, OrderedDict[tuple, _Counted]] = WeakKeyDictionary()
_kept_lock = threading.Lock()


def forget_counts(engine: Engine | None = None) -> None:
    """Drop the kept counts (of one database, or all): the next report counts afresh."""
    with _kept_lock:
        if engine is None:
            _kept.clear()
        else:
            _kept.pop(engine, None)


def _add_ratings(into: dict[tuple, int], groups: list[RatingGroup]) -> None:
    for g in groups:
        into[(g.officer_id, g.level, g.categories)] = into.get((g.officer_id, g.level, g.categories), 0) + g.count


def _add_reasons(into: dict[tuple, int], groups: list[ReasonGroup]) -> None:
    for g in groups:
        key = (g.reasons, g.officer_id, g.level, g.categories)
        into[key] = into.get(key, 0) + g.count


def _counted(engine: Engine, conn: Connection, period: Period, officer_id: str | None,
             chained: frozenset[str]) -> tuple[list[RatingGroup], list[ReasonGroup]]:
    """The period's rating and reason groups (no days), in the caller's transaction.

    A year of ratings takes a second or two to count, and leaders open the
    page, then download the XLSX, the PDF, the archive. Stored records are
    never changed nor deleted, and on SQLite (one writer at a time) their row
    ids are committed in order: so the counts of a period are kept with the
    last row id they include, and the next report of the same period adds
    only the records stored since. Another set of devices with open chain
    findings changes the categories: it counts afresh. On PostgreSQL row ids
    may commit out of order, so every report counts afresh there."""
    if conn.dialect.name != "sqlite":
        groups = stored.rating_totals(conn, period, officer_id=officer_id, chained=chained)
        return groups, stored.reason_totals(conn, period, officer_id=officer_id, chained=chained,
                                            ratings=sum(g.count for g in groups))
    key = (period.first, period.last, str(period.zone), officer_id, chained)
    last = stored.last_record_id(conn)
    with _kept_lock:
        found = _kept.get(engine, {}).get(key)
    if found is not None and found.last_id == last:
        counted = found
    elif found is not None and found.last_id < last:
        ratings, reasons = dict(found.ratings), dict(found.reasons)
        _add_ratings(ratings, stored.rating_delta(conn, period, after_id=found.last_id, officer_id=officer_id,
                                                  chained=chained))
        _add_reasons(reasons, stored.reason_delta(conn, period, after_id=found.last_id, officer_id=officer_id,
                                                  chained=chained))
        counted = _Counted(last, ratings, reasons)
    else:
        ratings, reasons = {}, {}
        groups, parts = _count_afresh(engine, conn, period, officer_id, chained, last)
        _add_ratings(ratings, groups)
        for part in parts:
            _add_reasons(reasons, part)
        counted = _Counted(last, ratings, reasons)
    with _kept_lock:
        kept = _kept.setdefault(engine, OrderedDict())
        kept[key] = counted
        kept.move_to_end(key)
        while len(kept) > _KEPT:
            kept.popitem(last=False)
    return ([RatingGroup(period.first, k[0], k[1], k[2], n) for k, n in counted.ratings.items()],
            [ReasonGroup(k[0], period.first, k[1], k[2], k[3], n) for k, n in counted.reasons.items()])


def _count_afresh(engine: Engine, conn: Connection, period: Period, officer_id: str | None,
                  chained: frozenset[str], last: int) -> tuple[list[RatingGroup], list[list[ReasonGroup]]]:
    """The period's rating groups, counted on ``conn``, and its reasons in
    two halves of the row ids up to ``last``, each on a connection of its
    own in a thread, at the same time. SQLite does its work without the
    interpreter's lock, so on two cores they run side by side (a year's
    reasons look up 150,000 ratings one by one: the report's longest part).
    Bounded by ``last``, the halves count what ``conn``'s snapshot holds."""
    ratings = stored.rating_count(conn, period, officer_id=officer_id)
    middle = last // 2

    def half(ids: tuple[int, int]) -> list[ReasonGroup]:
        with read_transaction(engine) as other:
            return stored.reason_totals(other, period, officer_id=officer_id, chained=chained, ratings=ratings,
                                        ids=ids)

    with ThreadPoolExecutor(2, thread_name_prefix="report-reasons") as helpers:
        halves = [helpers.submit(half, (0, middle)), helpers.submit(half, (middle + 1, last))]
        groups = stored.rating_totals(conn, period, officer_id=officer_id, chained=chained)
        return groups, [done.result() for done in halves]


def _follow_up(rows: list[dict], issued: dict[str, int] | None) -> FollowUp:
    opened = resolved = on_time = still_open = overdue = 0
    by_cause: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for row in rows:
        n = int(row["n"])
        opened += n
        by_cause[row["cause"]] = by_cause.get(row["cause"], 0) + n
        if row["status"] == CaseStatus.RESOLVED.value:
            resolved += n
            on_time += n if row["on_time"] else 0
            if row["outcome"]:
                by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + n
        else:
            still_open += n
            overdue += n if row["overdue"] else 0
    # Every cause and outcome listed, in their order, zeros included.
    return FollowUp(opened=opened, resolved=resolved, resolved_on_time=on_time, still_open=still_open,
                    overdue=overdue, by_cause={c.value: by_cause.get(c.value, 0) for c in Cause},
                    by_outcome={o.value: by_outcome.get(o.value, 0) for o in CaseOutcome}, letters=issued)


# -- periods by code -------------------------------------------------------------------

_CODES = (
    (re.compile(r"^(\d{4})$"), PeriodKind.YEAR),
    (re.compile(r"^(\d{4})-H([12])$"), PeriodKind.HALF),
    (re.compile(r"^(\d{4})-Q([1-4])$"), PeriodKind.QUARTER),
    (re.compile(r"^(\d{4})-(\d{2})$"), PeriodKind.MONTH),
    (re.compile(r"^(\d{4})-W(\d{2})$"), PeriodKind.WEEK),
)


def period_code(period: Period) -> str:
    """A period's short name: ``2026``, ``2026-H1``, ``2026-Q2``, ``2026-03``,
    ``2026-W10``, ``2026-03-05`` or ``2026-03-01..2026-03-15`` (a range)."""
    first = period.first
    if period.kind == PeriodKind.YEAR:
        return f"{first.year}"
    if period.kind == PeriodKind.HALF:
        return f"{first.year}-H{1 if first.month == 1 else 2}"
    if period.kind == PeriodKind.QUARTER:
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    if period.kind == PeriodKind.MONTH:
        return f"{first.year}-{first.month:02d}"
    if period.kind == PeriodKind.WEEK:
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if period.first == period.last:
        return first.isoformat()
    return f"{first.isoformat()}..{period.last.isoformat()}"


def parse_period(code: str, zone: ZoneInfo) -> Period:
    """The period a code names (:func:`period_code`'s forms). Raises ``ValueError``."""
    text = code.strip()
    if ".." in text:
        first, _, last = text.partition("..")
        return Period.between(date.fromisoformat(first), date.fromisoformat(last), zone)
    for pattern, kind in _CODES:
        found = pattern.match(text)
        if not found:
            continue
        year, part = int(found.group(1)), int(found.group(2)) if found.lastindex == 2 else 1
        if kind == PeriodKind.YEAR:
            return Period.of(kind, date(year, 1, 1), zone)
        if kind == PeriodKind.HALF:
            return Period.of(kind, date(year, 1 if part == 1 else 7, 1), zone)
        if kind == PeriodKind.QUARTER:
            return Period.of(kind, date(year, 3 * part - 2, 1), zone)
        if kind == PeriodKind.MONTH:
            return Period.of(kind, date(year, part, 1), zone)
        return Period.of(kind, date.fromisocalendar(year, part, 1), zone)
    return Period.of(PeriodKind.DAY, date.fromisoformat(text), zone)


def period_label(period: Period, t: Translate) -> str:
    """A period in words, as the board writes it: «Tháng 3/2026», «6 tháng đầu năm 2026»…"""
    first, last = period.first.strftime("%d/%m/%Y"), period.last.strftime("%d/%m/%Y")
    kind = period.kind
    if kind == PeriodKind.DAY:
        return day_in_words(period.first, t)
    if kind == PeriodKind.WEEK:
        return t("board.label.week", week=period.first.isocalendar().week, first=period.first.strftime("%d/%m"),
                 last=last)
    if kind == PeriodKind.MONTH:
        return t("board.label.month", month=period.first.month, year=period.first.year)
    if kind == PeriodKind.QUARTER:
        return t("board.label.quarter", quarter=(period.first.month - 1) // 3 + 1, year=period.first.year)
    if kind == PeriodKind.HALF:
        return t("board.label.half_" + ("1" if period.first.month == 1 else "2"), year=period.first.year)
    if kind == PeriodKind.YEAR:
        return t("board.label.year", year=period.first.year)
    return first if period.first == period.last else t("board.label.range", first=first, last=last)


# -- the reminder ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """A report due soon (or late): its deadline and the period it covers."""

    deadline: date
    period: Period
    days_left: int
    """Days from today to the deadline; negative when it has passed."""

    @property
    def code(self) -> str:
        return period_code(self.period)

    @property
    def late(self) -> bool:
        return self.days_left < 0


def due_reminder(today: date, zone: ZoneInfo, archived: set[str] | frozenset[str]) -> Reminder | None:
    """The report to remind leaders of on ``today``: from
    :data:`REMINDER_DAYS_BEFORE` days before a deadline to
    :data:`REMINDER_DAYS_AFTER` days after it, unless the period's evidence
    archive (its code in ``archived``) has been made."""
    for year in (today.year - 1, today.year):
        for month, day, kind in DEADLINES:
            deadline = date(year, month, day)
            if deadline - timedelta(days=REMINDER_DAYS_BEFORE) <= today <= deadline + timedelta(
                    days=REMINDER_DAYS_AFTER):
                period = Period.of(kind, date(year, 1, 1), zone)
                if period_code(period) not in archived:
                    return Reminder(deadline, period, (deadline - today).days)
    return None


def reminder_for(engine: Engine, now: datetime, settings: ServerSettings | None = None) -> Reminder | None:
    """:func:`due_reminder` on the server's clock ``now``, with the archives made."""
    settings = settings or load_settings(engine)
    today = now.astimezone(settings.zone).date()
    candidates = {period_code(Period.of(kind, date(year, 1, 1), settings.zone))
                  for year in (today.year - 1, today.year) for _m, _d, kind in DEADLINES}
    with read_transaction(engine) as conn:
        made = stored.archives_made(conn, candidates)
    return due_reminder(today, settings.zone, frozenset(made))

