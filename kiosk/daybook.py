"""An officer's day: the figures an officer sees after entering their PIN.

Today's count, satisfaction rate and distribution by level, the reasons
citizens gave, how many asked for a call-back (only the count: the rated
officer never sees a number), and one point per day for the last weeks'
chart. Only that officer's ratings count, and never simulated ones.

"Today" is the calendar date of the tablet's own clock when each rating was
taken: the date written at the start of the record's ``device_time``
(``2026-01-05T08:00:00.000+07:00`` belongs to 5 January). The rows come from
:class:`kiosk.store.officer_day.OfficerDayReads`, whose queries go through
the journal's indexes: a tablet with a hundred thousand ratings answers as
fast as one with a hundred.

Nothing here imports Kivy. The store is passed in, so call this on the
thread that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sync.scale import MIN_RATINGS_TO_JUDGE, Scale, Tally

if TYPE_CHECKING:
    from kiosk.store import Store

__all__ = ["DayPoint", "OfficerDay", "officer_day"]


@dataclass(frozen=True)
class DayPoint:
    """One day of the chart. ``rate`` is ``None`` on a day without ratings."""

    date: date
    count: int
    satisfied: int
    rate: float | None


@dataclass(frozen=True)
class OfficerDay:
    """What one officer sees of one day, and of the days before it."""

    officer_id: str
    date: date
    tally: Tally
    """Today's ratings by level key."""
    satisfaction_rate: float | None
    """Share of satisfied ratings today, ``None`` with no rating yet."""
    enough_to_judge: bool
    """False below :data:`sync.scale.MIN_RATINGS_TO_JUDGE`: show the rate with
    a note that it rests on too few ratings."""
    reasons: list[tuple[str, int]] = field(default_factory=list)
    """Reason id and how many of today's ratings gave it, most frequent first."""
    callbacks: int = 0
    """How many of today's ratings came with a call-back request (never who, nor a number)."""
    series: list[DayPoint] = field(default_factory=list)
    """One point per day, oldest first, ending today; days without ratings included."""
    burst: int = 0
    """How many of today's ratings were flagged as repeated presses (counted
    above all the same: flagged, never dropped)."""

    @property
    def count(self) -> int:
        """How many ratings today."""
        return self.tally.total

    @property
    def needed_to_judge(self) -> int:
        """How many ratings a rate needs before it is judged by (for the note)."""
        return MIN_RATINGS_TO_JUDGE

    def distribution(self, scale: Scale) -> list[tuple[str, int]]:
        """Today's count per level of ``scale``, best first, zeros included.

        Levels of another scale (the scale was changed during the day) follow
        at the end, so no rating goes missing from the sum.
        """
        out = [(level.key, self.tally.counts.get(level.key, 0)) for level in scale.best_first]
        shown = {key for key, _ in out}
        out.extend((key, n) for key, n in sorted(self.tally.counts.items()) if key not in shown)
        return out

    def last(self, days: int) -> list[DayPoint]:
        """The last ``days`` points of the series (e.g. 7 for the week's chart)."""
        return self.series[-days:] if days > 0 else []

    def period(self, days: int) -> Tally:
        """The last ``days`` days taken together, as one tally of satisfied / not.

        Only the counts the series keeps are summed, so its rate is the
        period's satisfaction rate and its ``enough_to_judge`` the period's note.
        """
        points = self.last(days)
        satisfied = sum(p.satisfied for p in points)
        total = sum(p.count for p in points)
        return Tally({"satisfied": satisfied, "other": total - satisfied})


def officer_day(store: Store, officer_id: str, today: date, days: int = 30) -> OfficerDay:
    """The figures of ``officer_id`` for ``today`` and the ``days`` days ending today."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    first = today - timedelta(days=days - 1)
    tomorrow = today + timedelta(days=1)
    reads = store.officer_days

    per_day: dict[str, dict[str, int]] = {}
    burst_today = 0
    today_text = today.isoformat()
    for row in reads.levels_by_day(officer_id, first, tomorrow):
        per_day.setdefault(row.day, {})[row.level] = row.count
        if row.day == today_text:
            burst_today += row.bursts

    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_tally = Tally(per_day.get(day.isoformat(), {}))
        series.append(
            DayPoint(day, day_tally.total, day_tally.satisfied_count(), day_tally.satisfaction_rate)
        )

    reasons = reads.reasons(officer_id, today, tomorrow)
    callbacks = reads.callback_count(officer_id, today, tomorrow)

    today_tally = Tally(per_day.get(today_text, {}))
    return OfficerDay(
        officer_id=officer_id,
        date=today,
        tally=today_tally,
        satisfaction_rate=today_tally.satisfaction_rate,
        enough_to_judge=today_tally.enough_to_judge,
        reasons=reasons,
        callbacks=callbacks,
        series=series,
        burst=burst_today,
    )
