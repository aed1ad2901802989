"""An officer's day: the figures an officer sees after entering their PIN.

Today's count, satisfaction rate and distribution by level, the reasons
citizens gave, the call-back requests, and one point per day for the last
weeks' chart. Only that officer's ratings count, and never simulated ones.

"Today" is the calendar date of the tablet's own clock when each rating was
taken: the date written at the start of the record's ``device_time``
(``2026-01-05T08:00:00.000+07:00`` belongs to 5 January). Because that text
starts with the date, a day range is a range of strings, which SQLite answers
from the journal's ``(kind, officer_id, device_time)`` index without reading
other officers' rows; reasons and call-backs follow ``rating_uuid``'s index.
A tablet with a hundred thousand ratings answers as fast as one with a hundred.

Nothing here imports Kivy. The store is passed in, so call this on the
thread that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sync.record import KIND_DETAILS, KIND_RATING
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
    callbacks: list[tuple[str, str]] = field(default_factory=list)
    """Today's call-back requests: the rating's device time and the phone number."""
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


# Ratings of this officer taken in [start, end) by the device's own date;
# simulated ones are left out by a filter on the rows the index found.
_RANGE = (
    "r.kind = :rating AND r.officer_id = :officer "
    "AND r.device_time >= :start AND r.device_time < :end AND r.simulated = 0"
)


def officer_day(store: "Store", officer_id: str, today: date, days: int = 30) -> OfficerDay:
    """The figures of ``officer_id`` for ``today`` and the ``days`` days ending today."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    first = today - timedelta(days=days - 1)
    params = {
        "rating": KIND_RATING,
        "details": KIND_DETAILS,
        "officer": officer_id,
        "start": first.isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }
    db = store.db

    per_day: dict[str, dict[str, int]] = {}
    burst_today = 0
    today_text = today.isoformat()
    for day, level, n, bursts in db.execute(
        f"SELECT substr(r.device_time, 1, 10) AS day, r.level, count(*), total(r.burst) "
        f"FROM journal r WHERE {_RANGE} GROUP BY day, r.level",
        params,
    ).fetchall():
        per_day.setdefault(day, {})[level] = n
        if day == today_text:
            burst_today += int(bursts)

    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_tally = Tally(per_day.get(day.isoformat(), {}))
        series.append(
            DayPoint(day, day_tally.total, day_tally.satisfied_count(), day_tally.satisfaction_rate)
        )

    today_params = dict(params, start=today_text)
    # A reason counts once per rating, even if the citizen's details came in
    # two records. CROSS JOIN keeps SQLite's join order: today's ratings
    # first (a few rows from the index), then their details by rating_uuid,
    # instead of walking every details record the tablet ever wrote.
    reasons = [
        (reason, n)
        for reason, n in db.execute(
            "SELECT je.value AS reason, count(DISTINCT r.uuid) AS n "
            "FROM journal r "
            "CROSS JOIN journal d ON d.rating_uuid = r.uuid AND d.kind = :details "
            "JOIN json_each(d.reasons) je "
            f"WHERE {_RANGE} GROUP BY je.value ORDER BY n DESC, je.value",
            today_params,
        ).fetchall()
    ]
    callbacks = [
        (device_time, phone)
        for device_time, phone in db.execute(
            "SELECT r.device_time, d.callback_phone "
            "FROM journal r "
            "CROSS JOIN journal d ON d.rating_uuid = r.uuid AND d.kind = :details "
            f"WHERE {_RANGE} AND d.callback_phone IS NOT NULL AND d.callback_consent = 1 "
            "ORDER BY r.device_time, d.seq",
            today_params,
        ).fetchall()
    ]

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
