"""The rules behind every figure of the dashboard, free of SQL and HTTP.

* A satisfaction rate is shown with the number of ratings it rests on and a
  95% Wilson interval (:func:`wilson_interval`, :class:`Rate`).
* Officers are ranked by the interval's lower bound, so 3 lucky ratings out
  of 3 never rank above 290 out of 300; officers with fewer ratings than the
  commune's threshold are listed apart, "too few to rank" (:func:`rank`).
* Periods (day, ISO week, month, quarter, 6 months, year, a chosen range)
  are local days of the commune's time zone; :class:`Period` gives their UTC
  bounds, their days, their trend buckets and the stretches of constant UTC
  offset the database groups by.
* Ratings flagged ``burst``, ``simulated`` or ``clock_off``, or coming from a
  device with an open chain finding, are counted apart and can be excluded
  (:class:`Exclusions`; by default only simulated ones are).
* Ratings given at home carry the category ``at_home``: counted with the
  rest, and shown apart on request (:class:`Place`).
* Reasons are counted under the plans' headings: "5 biết", "3 thể hiện" and
  the 4 aims (:data:`HEADINGS`, :data:`REASON_HEADINGS`).

Which levels count as satisfied is :mod:`sync.scale`'s rule, as on the tablet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from sync.roster import BUILTIN_REASONS
from sync.scale import SCALES

__all__ = [
    "Z_95", "wilson_interval", "Rate", "RankedOfficer", "Ranking", "rank",
    "PeriodKind", "Grain", "Bucket", "Segment", "Period",
    "CATEGORIES", "AT_HOME", "Place", "Exclusions", "RatingGroup", "Figures", "tally", "tally_by", "SATISFIED_LEVELS",
    "HEADING_GROUPS", "HEADINGS", "REASON_HEADINGS", "ReasonGroup", "ReasonTally", "HeadingCount",
    "reason_counts", "heading_counts",
]

Z_95 = 1.959963984540054
"""The normal quantile of a two-sided 95% interval."""


# -- rates ---------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion: ``(low, high)`` within [0, 1].

    Unlike the textbook ±z·√(p(1−p)/n), it stays inside [0, 1] and does not
    shrink to nothing at 3 out of 3. With no ratings it is the whole ``(0, 1)``.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Exact at the ends (0 or n successes), where rounding could step outside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Rate:
    """A satisfaction rate: ``satisfied`` out of ``n`` ratings, with its 95% interval."""

    n: int
    satisfied: int

    @property
    def share(self) -> float | None:
        """The satisfied share, or ``None`` when there are no ratings."""
        return self.satisfied / self.n if self.n else None

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The Wilson 95% interval, or ``None`` when there are no ratings."""
        return wilson_interval(self.satisfied, self.n) if self.n else None

    @property
    def low(self) -> float | None:
        """The interval's lower bound (what rankings go by)."""
        bounds = self.bounds
        return bounds[0] if bounds else None

    @property
    def high(self) -> float | None:
        """The interval's upper bound."""
        bounds = self.bounds
        return bounds[1] if bounds else None


@dataclass(frozen=True)
class RankedOfficer:
    """An officer's place: ``position`` 1 is best; ``None`` when too few to rank."""

    officer_id: str
    rate: Rate
    position: int | None


@dataclass(frozen=True)
class Ranking:
    """Officers ranked by their interval's lower bound, and those with too few ratings."""

    ranked: list[RankedOfficer]
    too_few: list[RankedOfficer]
    min_ratings: int


def rank(rates: Mapping[str, Rate], min_ratings: int) -> Ranking:
    """Rank officers by the lower bound of their 95% interval.

    Officers with fewer than ``min_ratings`` ratings are never ranked: they
    are listed apart (most ratings first), whatever their share. Equal lower
    bounds share a position (1, 2, 2, 4); among them more ratings come first.
    """
    enough = [(oid, r) for oid, r in rates.items() if r.n >= max(min_ratings, 1)]
    enough.sort(key=lambda item: (-(item[1].low or 0.0), -item[1].n, item[0]))
    ranked: list[RankedOfficer] = []
    for index, (oid, r) in enumerate(enough):
        tied = ranked and math.isclose(ranked[-1].rate.low or 0.0, r.low or 0.0, abs_tol=1e-12)
        ranked.append(RankedOfficer(oid, r, ranked[-1].position if tied else index + 1))
    few = sorted(((oid, r) for oid, r in rates.items() if r.n < max(min_ratings, 1)),
                 key=lambda item: (-item[1].n, item[0]))
    return Ranking(ranked, [RankedOfficer(oid, r, None) for oid, r in few], min_ratings)


# -- periods -------------------------------------------------------------------------


class PeriodKind(StrEnum):
    """The periods the plans report on, and a chosen range."""

    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"  # 6 months: January–June or July–December
    YEAR = "year"
    RANGE = "range"


class Grain(StrEnum):
    """The width of a trend chart's buckets."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Bucket:
    """A stretch of local days of a trend (``first`` to ``last``, both included)."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True)
class Segment:
    """A stretch of UTC time ``[start, end)`` over which the commune's clock
    is ``offset_s`` seconds ahead of UTC: within it a UTC time plus the
    offset gives the local day."""

    start: datetime
    end: datetime
    offset_s: int


def _month_start(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last`` (both included) of the commune's time zone."""

    kind: PeriodKind
    first: date
    last: date
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def of(cls, kind: PeriodKind | str, day: date, zone: ZoneInfo) -> Period:
        """The period of that kind holding ``day`` (a ``RANGE`` of one day is that day)."""
        kind = PeriodKind(kind)
        if kind in (PeriodKind.DAY, PeriodKind.RANGE):
            return cls(kind, day, day, zone)
        if kind == PeriodKind.WEEK:
            monday = day - timedelta(days=day.weekday())
            return cls(kind, monday, monday + timedelta(days=6), zone)
        months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF: 6, PeriodKind.YEAR: 12}[kind]
        start = date(day.year, (day.month - 1) // months * months + 1, 1)
        return cls(kind, start, _month_start(start, months) - timedelta(days=1), zone)

    @classmethod
    def between(cls, first: date, last: date, zone: ZoneInfo) -> Period:
        """A chosen range of local days, both included."""
        return cls(PeriodKind.RANGE, first, last, zone)

    @classmethod
    def today(cls, zone: ZoneInfo, now: datetime | None = None) -> Period:
        """The commune's current local day."""
        return cls.of(PeriodKind.DAY, (now or datetime.now(UTC)).astimezone(zone).date(), zone)

    def local_midnight(self, day: date) -> datetime:
        """When local ``day`` begins, in UTC."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def start_utc(self) -> datetime:
        """The first instant of the period, in UTC."""
        return self.local_midnight(self.first)

    @property
    def end_utc(self) -> datetime:
        """The instant after the period (exclusive), in UTC."""
        return self.local_midnight(self.last + timedelta(days=1))

    def days(self) -> list[date]:
        """Every local day of the period."""
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def shift(self, steps: int) -> Period:
        """The period ``steps`` of its kind later (earlier when negative); a
        range moves by its own length."""
        if self.kind == PeriodKind.RANGE:
            length = (self.last - self.first).days + 1
            delta = timedelta(days=length * steps)
            return Period(self.kind, self.first + delta, self.last + delta, self.zone)
        if self.kind in (PeriodKind.DAY, PeriodKind.WEEK):
            days = 1 if self.kind == PeriodKind.DAY else 7
            return Period.of(self.kind, self.first + timedelta(days=days * steps), self.zone)
        months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF: 6, PeriodKind.YEAR: 12}[self.kind]
        return Period.of(self.kind, _month_start(self.first, months * steps), self.zone)

    @property
    def grain(self) -> Grain:
        """The natural width of the period's trend buckets."""
        if self.kind in (PeriodKind.HALF, PeriodKind.YEAR):
            return Grain.MONTH
        if self.kind == PeriodKind.QUARTER:
            return Grain.WEEK
        length = (self.last - self.first).days + 1
        return Grain.DAY if length <= 62 else Grain.WEEK if length <= 190 else Grain.MONTH

    def buckets(self, grain: Grain | str | None = None) -> list[Bucket]:
        """The trend's buckets, cut at the period's ends (a week starts on Monday)."""
        grain = Grain(grain) if grain is not None else self.grain
        buckets: list[Bucket] = []
        start = self.first
        while start <= self.last:
            if grain == Grain.DAY:
                end = start
            elif grain == Grain.WEEK:
                end = start + timedelta(days=6 - start.weekday())
            else:
                end = _month_start(start, 1) - timedelta(days=1)
            buckets.append(Bucket(start, min(end, self.last)))
            start = end + timedelta(days=1)
        return buckets

    def segments(self) -> list[Segment]:
        """The period's UTC span cut where the zone's UTC offset changes (DST)."""
        start, end = int(self.start_utc.timestamp()), int(self.end_utc.timestamp())
        segments: list[Segment] = []
        day = 86_400
        while start < end:
            offset = self._offset(start)
            probe = start
            # A day at a time to the next change of offset, then to the second.
            while probe < end and self._offset(min(probe + day, end - 1)) == offset:
                probe += day
            if probe >= end:
                segments.append(Segment(_utc(start), _utc(end), offset))
                break
            low, high = probe, min(probe + day, end - 1)  # old offset at low, new one at high
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if self._offset(middle) == offset else (low, middle)
            segments.append(Segment(_utc(start), _utc(high), offset))
            start = high
        return segments

    def _offset(self, timestamp: int) -> int:
        delta = datetime.fromtimestamp(timestamp, self.zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# -- exclusion switches and tallies --------------------------------------------------

CATEGORIES = ("burst", "simulated", "clock_off", "chain", "repeat_dossier", "corrected")
"""Why a rating may be counted apart: a press in a burst, a simulated rating, a
device clock too far off, a device with an open chain finding, a second
rating of one dossier; and, counted apart but never left out, a rating the
citizen corrected within the tablet's window (counted at its corrected level)."""

AT_HOME = "at_home"
"""The category of a rating given at home, on the citizen's phone (:mod:`server.home_visits`):
counted with the rest, never left out by a switch, its number shown; :class:`Place` shows it apart."""


class Place(StrEnum):
    """Where the ratings a page counts were given: everywhere, at the counter
    (the tablets) or at home (the citizen's phone, after a visit)."""

    ALL = "all"
    COUNTER = "counter"
    HOME = "home"

    @classmethod
    def of(cls, text: str | None) -> Place:
        """The place a page's query names; anything else is every place."""
        try:
            return cls(text or cls.ALL)
        except ValueError:
            return cls.ALL

    def admits(self, categories: Iterable[str]) -> bool:
        """Whether a rating carrying these categories was given at this place."""
        if self is Place.ALL:
            return True
        return (AT_HOME in categories) == (self is Place.HOME)


SATISFIED_LEVELS = frozenset(level.key for scale in SCALES.values() for level in scale.levels if level.satisfied)
"""Level keys that count towards the satisfaction rate, on any scale."""


@dataclass(frozen=True)
class Exclusions:
    """Which categories of ratings are left out of the figures (they are still
    counted apart). By default simulated ratings are."""

    burst: bool = False
    simulated: bool = True
    clock_off: bool = False
    chain: bool = False
    repeat_dossier: bool = False
    corrected: bool = False
    """Always counted (at the corrected level): the switch leaves it alone."""

    @classmethod
    def none(cls) -> Exclusions:
        """Count everything."""
        return cls(simulated=False)

    @classmethod
    def all(cls) -> Exclusions:
        """The one switch: leave out every flagged rating."""
        return cls(burst=True, simulated=True, clock_off=True, chain=True, repeat_dossier=True)

    def excludes(self, categories: Iterable[str]) -> bool:
        """Whether a rating carrying these categories is left out."""
        # Where a rating was given is no reason to leave it out (a place is chosen apart).
        return any(getattr(self, category) for category in categories if category != AT_HOME)


@dataclass(frozen=True)
class RatingGroup:
    """``count`` ratings alike: same local day, officer, level and categories."""

    day: date
    officer_id: str | None
    level: str | None
    categories: frozenset[str]
    count: int


@dataclass
class Figures:
    """The figures of a set of ratings under some exclusions."""

    levels: dict[str, int] = field(default_factory=dict)
    """Ratings counted, by level key."""
    apart: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    """Ratings carrying each category, whether excluded or not (one rating may carry several)."""
    excluded: int = 0
    """Ratings left out by the exclusions."""

    @property
    def counted(self) -> int:
        """Ratings the rate rests on."""
        return sum(self.levels.values())

    @property
    def total(self) -> int:
        """Every rating, excluded ones included."""
        return self.counted + self.excluded

    @property
    def satisfied(self) -> int:
        """Counted ratings at a satisfied level."""
        return sum(count for key, count in self.levels.items() if key in SATISFIED_LEVELS)

    @property
    def rate(self) -> Rate:
        """The satisfaction rate of the counted ratings."""
        return Rate(self.counted, self.satisfied)

    def add(self, group: RatingGroup, exclusions: Exclusions) -> None:
        """Count a group in."""
        for category in group.categories:
            self.apart[category] = self.apart.get(category, 0) + group.count
        if exclusions.excludes(group.categories):
            self.excluded += group.count
        else:
            key = group.level or ""
            self.levels[key] = self.levels.get(key, 0) + group.count


def tally(groups: Iterable[RatingGroup], exclusions: Exclusions) -> Figures:
    """The figures of every group together."""
    figures = Figures()
    for group in groups:
        figures.add(group, exclusions)
    return figures


K = TypeVar("K", bound=Hashable)


def tally_by(groups: Iterable[RatingGroup], key: Callable[[RatingGroup], K | None],
             exclusions: Exclusions) -> dict[K, Figures]:
    """The figures by ``key(group)`` (e.g. the officer, or the trend bucket);
    groups whose key is ``None`` are left out."""
    result: dict[K, Figures] = {}
    for group in groups:
        k = key(group)
        if k is not None:
            result.setdefault(k, Figures()).add(group, exclusions)
    return result


# -- reasons under the plans' headings -----------------------------------------------

HEADING_GROUPS = ("five_know", "three_show", "four_aims")
"""The plans' slogans: "5 biết", "3 thể hiện" and the 4 aims (their words are
in the server's language files under ``scores.group.*``)."""

HEADINGS: dict[str, tuple[str, ...]] = {
    # 5 biết: biết nghe dân nói, biết nói dân hiểu, biết làm dân tin, biết xin lỗi, biết cảm ơn
    "five_know": ("know_listen", "know_explain", "know_trust", "know_apologise", "know_thank"),
    # 3 thể hiện: tôn trọng, văn minh, gần gũi
    "three_show": ("show_respect", "show_civility", "show_closeness"),
    # nhanh hơn, tiết kiệm hơn, hợp lý hơn, thân thiện hơn
    "four_aims": ("aim_faster", "aim_cheaper", "aim_sensible", "aim_friendlier"),
}

REASON_HEADINGS: dict[str, tuple[str, ...]] = {
    # what went wrong
    "waited_long": ("aim_faster",),
    "come_back": ("aim_cheaper", "aim_sensible"),
    "unclear_guidance": ("know_explain",),
    "not_listening": ("know_listen",),
    "hard_to_understand": ("know_explain",),
    "disrespectful": ("show_respect", "aim_friendlier"),
    "no_apology": ("know_apologise",),
    "late_result": ("aim_faster", "know_trust"),
    "extra_papers": ("aim_sensible",),
    "extra_money": ("know_trust", "aim_cheaper"),
    "harassment": ("know_trust", "show_civility"),
    # what went well
    "fast": ("aim_faster",),
    "listened": ("know_listen",),
    "clear_guidance": ("know_explain",),
    "respectful": ("show_respect", "show_civility"),
    "friendly": ("show_closeness", "aim_friendlier"),
    "trustworthy": ("know_trust",),
    "on_time": ("aim_faster", "know_trust"),
    "saved_cost": ("aim_cheaper",),
}
"""The headings each built-in reason speaks to (a reason may speak to one
heading of each group). No built-in reason is about thanking the citizen
("biết cảm ơn"): that heading stays at zero until a commune adds one. A
commune's own reasons are under no heading."""

assert set(REASON_HEADINGS) == BUILTIN_REASONS, "every built-in reason has its headings"


@dataclass(frozen=True)
class ReasonGroup:
    """``count`` details records alike: the reasons given (in one details
    record), with the rating's local day, officer, level and categories."""

    reasons: tuple[str, ...]
    day: date
    officer_id: str | None
    level: str | None
    categories: frozenset[str]
    count: int


@dataclass
class ReasonTally:
    """How often a reason was given with a satisfied rating (praise) or not (fault)."""

    praised: int = 0
    faulted: int = 0

    @property
    def total(self) -> int:
        return self.praised + self.faulted


@dataclass(frozen=True)
class HeadingCount:
    """A heading of the plans and how often the reasons under it were given."""

    group: str
    heading: str
    praised: int
    faulted: int
    reasons: tuple[str, ...]
    """The reasons counted under it (those given at least once)."""


def reason_counts(groups: Iterable[ReasonGroup], exclusions: Exclusions) -> dict[str, ReasonTally]:
    """How often each reason was given, under the exclusions. A reason given
    with a satisfied rating is praise, with any other level a fault."""
    counts: dict[str, ReasonTally] = {}
    for group in groups:
        if exclusions.excludes(group.categories):
            continue
        satisfied = group.level in SATISFIED_LEVELS
        for reason in dict.fromkeys(group.reasons):
            tallied = counts.setdefault(reason, ReasonTally())
            if satisfied:
                tallied.praised += group.count
            else:
                tallied.faulted += group.count
    return counts


def heading_counts(counts: Mapping[str, ReasonTally]) -> list[HeadingCount]:
    """Every heading of the plans, in their order, with the reason counts under it."""
    result = []
    for group, headings in HEADINGS.items():
        for heading in headings:
            reasons = tuple(r for r, hs in REASON_HEADINGS.items() if heading in hs and r in counts)
            result.append(HeadingCount(group, heading, sum(counts[r].praised for r in reasons),
                                       sum(counts[r].faulted for r in reasons), reasons))
    return result
