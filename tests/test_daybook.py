"""An officer's day: only their own ratings, the same figures the store holds,
days without ratings, simulated ratings left out, the "too few" note, and
queries that use the journal's indexes."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.config import Settings, load_settings
from kiosk.daybook import DayPoint, officer_day
from kiosk.desk import DeviceClock, RatingDesk
from kiosk.store import Store
from sync.scale import MIN_RATINGS_TO_JUDGE, scale_for
from tests.callback_support import give_server_key
from tests.conftest import write_config

ICT = timezone(timedelta(hours=7))
TODAY = date(2026, 3, 12)
LAN, HUNG, HA = "nguyen-thi-lan", "tran-van-hung", "le-thi-thu-ha"


class Clock:
    """A tablet clock the test sets by hand."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 3, 12, 9, 0, tzinfo=ICT)
        self.mono = 10**9

    def at(self, when: datetime) -> None:
        self.wall = when
        self.mono += 60 * 10**9  # a minute apart: no burst flags unless a test wants them

    def device_clock(self) -> DeviceClock:
        return DeviceClock(now=lambda: self.wall, monotonic_ns=lambda: self.mono, boot=lambda: "boot-1")


@pytest.fixture
def settings(tmp_path: Path, demo_tree: dict) -> Settings:
    demo_tree["attribution"] = {"mode": "choose"}
    demo_tree["working_hours"]["enforce"] = False
    return load_settings(write_config(tmp_path, demo_tree))


@pytest.fixture
def desk(settings: Settings) -> Iterator[tuple[RatingDesk, Clock]]:
    clock = Clock()
    store = Store(settings.database)
    give_server_key(store)  # the tablet may take call-back numbers
    yield RatingDesk(settings, store, clock.device_clock()), clock
    store.close()


def _rate(desk: RatingDesk, clock: Clock, officer: str, score: int, when: datetime, *,
          reasons: tuple[str, ...] = (), phone: str | None = None, simulated: bool = False):
    clock.at(when)
    record = desk.rate(officer, score, simulated=simulated)
    if reasons or phone:
        desk.add_details(record, reasons, phone, consent=phone is not None)
    return record


def at(day: date, hour: int, minute: int = 0, tz: timezone = ICT) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def test_an_officer_sees_only_their_own_day(desk) -> None:
    d, clock = desk
    _rate(d, clock, LAN, 3, at(TODAY, 8))
    _rate(d, clock, LAN, 1, at(TODAY, 9), reasons=("waited_long",), phone="0912345678")
    _rate(d, clock, HUNG, 1, at(TODAY, 9, 30), reasons=("disrespectful", "waited_long"), phone="0987654321")
    _rate(d, clock, HUNG, 1, at(TODAY, 10))
    _rate(d, clock, HUNG, 2, at(TODAY, 10, 30))

    lan = officer_day(d.store, LAN, TODAY)
    assert lan.officer_id == LAN and lan.date == TODAY
    assert lan.tally.counts == {"very_satisfied": 1, "dissatisfied": 1}
    assert lan.count == 2
    assert lan.satisfaction_rate == pytest.approx(0.5)
    assert lan.reasons == [("waited_long", 1)]
    assert lan.callbacks == 1  # only how many: never who, nor a number

    hung = officer_day(d.store, HUNG, TODAY)
    assert hung.tally.counts == {"dissatisfied": 2, "satisfied": 1}
    assert hung.reasons == [("disrespectful", 1), ("waited_long", 1)]
    assert hung.callbacks == 1

    nobody = officer_day(d.store, HA, TODAY)
    assert nobody.count == 0 and nobody.satisfaction_rate is None
    assert nobody.reasons == [] and nobody.callbacks == 0


def test_zero_days_are_in_the_series(desk) -> None:
    d, clock = desk
    _rate(d, clock, LAN, 3, at(TODAY - timedelta(days=3), 10))
    _rate(d, clock, LAN, 1, at(TODAY - timedelta(days=3), 11))
    _rate(d, clock, LAN, 2, at(TODAY, 8))
    day = officer_day(d.store, LAN, TODAY, days=7)
    assert [p.date for p in day.series] == [TODAY - timedelta(days=6 - i) for i in range(7)]
    assert [p.count for p in day.series] == [0, 0, 0, 2, 0, 0, 1]
    assert day.series[0] == DayPoint(TODAY - timedelta(days=6), 0, 0, None)
    assert day.series[3] == DayPoint(TODAY - timedelta(days=3), 2, 1, 0.5)
    assert day.series[-1] == DayPoint(TODAY, 1, 1, 1.0)
    assert day.last(2) == day.series[-2:]
    # Outside the window, nothing counts.
    assert [p.count for p in officer_day(d.store, LAN, TODAY, days=3).series] == [0, 0, 1]


def test_today_is_the_tablets_own_date(desk) -> None:
    d, clock = desk
    # 00:30 in Hanoi is still the day before in UTC; the officer's day goes by the tablet's clock.
    _rate(d, clock, LAN, 3, at(TODAY, 0, 30))
    _rate(d, clock, LAN, 3, at(TODAY - timedelta(days=1), 23, 59))
    # A tablet whose time zone was set to UTC writes its own local date.
    _rate(d, clock, LAN, 1, at(TODAY, 23, 50, tz=UTC))
    day = officer_day(d.store, LAN, TODAY, days=2)
    assert day.tally.counts == {"very_satisfied": 1, "dissatisfied": 1}
    assert [p.count for p in day.series] == [1, 2]


def test_simulated_ratings_are_left_out(desk) -> None:
    d, clock = desk
    _rate(d, clock, LAN, 3, at(TODAY, 8))
    for minute in range(5):
        _rate(d, clock, LAN, 1, at(TODAY, 9, minute), reasons=("extra_money",), phone="0900000123", simulated=True)
    day = officer_day(d.store, LAN, TODAY)
    assert day.tally.counts == {"very_satisfied": 1}
    assert day.reasons == [] and day.callbacks == 0
    assert day.series[-1].count == 1


def test_too_few_ratings_are_noted(desk) -> None:
    d, clock = desk
    for i in range(MIN_RATINGS_TO_JUDGE - 1):
        _rate(d, clock, LAN, 3, at(TODAY, 7, i))
    day = officer_day(d.store, LAN, TODAY)
    assert day.satisfaction_rate == 1.0
    assert not day.enough_to_judge
    assert day.needed_to_judge == MIN_RATINGS_TO_JUDGE
    _rate(d, clock, LAN, 2, at(TODAY, 8))
    assert officer_day(d.store, LAN, TODAY).enough_to_judge


def test_burst_flags_are_counted_not_dropped(desk) -> None:
    d, clock = desk
    clock.at(at(TODAY, 9))
    d.rate(LAN, 3)
    clock.mono += 10**9  # one second later: a repeated press
    d.rate(LAN, 3)
    day = officer_day(d.store, LAN, TODAY)
    assert day.count == 2 and day.burst == 1


def test_distribution_follows_the_scale(desk) -> None:
    d, clock = desk
    _rate(d, clock, LAN, 1, at(TODAY, 8))
    _rate(d, clock, LAN, 3, at(TODAY, 9))
    _rate(d, clock, LAN, 3, at(TODAY, 10))
    day = officer_day(d.store, LAN, TODAY)
    assert day.distribution(scale_for(3)) == [("very_satisfied", 2), ("satisfied", 0), ("dissatisfied", 1)]
    # Switched to five levels during the day: the old ratings are still all there.
    five = day.distribution(scale_for(5))
    assert sum(n for _, n in five) == 3
    assert [k for k, _ in five][:5] == [level.key for level in scale_for(5).best_first]


def test_figures_agree_with_the_store(desk) -> None:
    """Many ratings over seven weeks, three officers, details and simulated
    ones mixed in: every figure equals a count made from the store's records."""
    d, clock = desk
    rng = random.Random(7)
    low = ["waited_long", "come_back", "unclear_guidance", "disrespectful", "extra_money"]
    start = datetime(2026, 1, 20, 7, 0, tzinfo=ICT)
    moments = sorted(start + timedelta(minutes=rng.randrange(0, 52 * 24 * 60)) for _ in range(400))
    for when in moments:
        officer = rng.choice([LAN, HUNG, HA])
        score = rng.choice([1, 1, 2, 3, 3, 3])
        reasons = tuple(rng.sample(low, rng.randint(1, 3))) if score == 1 and rng.random() < 0.8 else ()
        phone = f"09{rng.randrange(10**8):08d}" if score == 1 and rng.random() < 0.3 else None
        _rate(d, clock, officer, score, when, reasons=reasons, phone=phone, simulated=rng.random() < 0.1)

    seen_today = seen_reasons = seen_calls = 0
    for officer in (LAN, HUNG, HA):
        day = officer_day(d.store, officer, TODAY, days=30)
        seen_today += day.count
        seen_reasons += len(day.reasons)
        seen_calls += day.callbacks
        mine = [r for r in d.store.ratings(officer) if not r.simulated]
        assert all(r.officer_id == officer for r in mine)

        def on(when: date, mine: list = mine) -> list:
            return [r for r in mine if r.device_time[:10] == when.isoformat()]

        today = on(TODAY)
        assert day.tally.counts == dict(Counter(r.level for r in today))
        satisfied = sum(r.level in ("satisfied", "very_satisfied") for r in today)
        assert day.satisfaction_rate == (satisfied / len(today) if today else None)

        details = [x for r in today for x in d.store.details_for(r.uuid)]
        expected_reasons = Counter(reason for x in details for reason in x.reasons)
        assert dict(day.reasons) == dict(expected_reasons)
        counts = [n for _, n in day.reasons]
        assert counts == sorted(counts, reverse=True)
        expected_calls = sum(any(x.callback_consent for x in d.store.details_for(r.uuid)) for r in today)
        assert day.callbacks == expected_calls

        assert len(day.series) == 30
        for point in day.series:
            records = on(point.date)
            assert point.count == len(records)
            assert point.satisfied == sum(r.level in ("satisfied", "very_satisfied") for r in records)
        month = day.period(30)
        assert month.total == sum(p.count for p in day.series)
        assert day.period(7).total == sum(len(on(TODAY - timedelta(days=i))) for i in range(7))
    # The data reached every figure compared above, so the comparison meant something.
    assert seen_today > 0 and seen_reasons > 0 and seen_calls > 0


def test_queries_use_the_indexes(desk) -> None:
    """Every look-up in the journal goes through an index: a tablet with a
    year of ratings answers without reading them all."""
    d, clock = desk
    _rate(d, clock, LAN, 1, at(TODAY, 8), reasons=("waited_long",), phone="0912345678")
    conn = d.store.db.conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        officer_day(d.store, LAN, TODAY)
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3
    for sql in selects:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        journal_steps = [step for step in plan if " r " in f" {step} " or " d " in f" {step} "]
        assert journal_steps, plan
        assert not [step for step in journal_steps if step.startswith("SCAN")], plan
        # Today's ratings are found by officer and time, not by kind alone.
        assert any("officer_id=? AND device_time>? AND device_time<?" in step for step in plan), plan


def test_days_must_be_positive(desk) -> None:
    d, _ = desk
    with pytest.raises(ValueError):
        officer_day(d.store, LAN, TODAY, days=0)


def test_a_reason_counts_once_per_rating(desk) -> None:
    """Details that came in two records (reasons, then a call-back with the
    reasons repeated) do not count a reason twice for one citizen."""
    d, clock = desk
    record = _rate(d, clock, LAN, 1, at(TODAY, 8), reasons=("waited_long",))
    d.add_details(record, ("waited_long", "come_back"), "0912345678", consent=True)
    day = officer_day(d.store, LAN, TODAY)
    assert day.reasons == [("come_back", 1), ("waited_long", 1)]
    assert day.count == 1
