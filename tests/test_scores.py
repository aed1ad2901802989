"""The dashboard's rules: Wilson intervals, ranking, periods in the commune's
time zone (and in one with daylight saving time), exclusion switches and the
reasons under the plans' headings."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from server.scores import (
    CATEGORIES,
    HEADINGS,
    REASON_HEADINGS,
    Exclusions,
    Grain,
    Period,
    PeriodKind,
    Rate,
    RatingGroup,
    ReasonGroup,
    heading_counts,
    rank,
    reason_counts,
    tally,
    wilson_interval,
)
from server.settings import DEFAULTS, ServerSettings, SettingError, check_setting, load_settings, save_setting
from server.store import open_engine
from sync.roster import BUILTIN_REASONS

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")


def _wilson_by_formula(k: int, n: int, z: float) -> tuple[float, float]:
    # Written out independently: Wilson (1927), the score interval's closed form.
    p = k / n
    a = p + z * z / (2 * n)
    b = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    c = 1 + z * z / n
    return (a - b) / c, (a + b) / c


@pytest.mark.parametrize(("k", "n"), [(1, 1), (3, 3), (0, 10), (5, 10), (81, 263), (290, 300), (999, 1000)])
def test_wilson_matches_the_formula(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    expected_low, expected_high = _wilson_by_formula(k, n, 1.96)
    assert low == pytest.approx(max(0.0, expected_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, expected_high), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605;
    # 0/20 → 0–0.1611; 1/29 → 0.0061–0.1718.
    for (k, n), (low, high) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                                (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson_interval(k, n)
        assert got[0] == pytest.approx(low, abs=1e-4) and got[1] == pytest.approx(high, abs=1e-4), (k, n, got)


def test_rate_with_no_ratings_has_no_share() -> None:
    empty = Rate(0, 0)
    assert empty.share is None and empty.low is None and empty.high is None and empty.bounds is None
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_ranking_never_puts_a_lucky_streak_above_a_long_record() -> None:
    rates = {"lucky": Rate(3, 3), "steady": Rate(300, 290), "new": Rate(29, 29), "weak": Rate(40, 20)}
    # Even with no threshold, the lower bound keeps 3/3 below 290/300.
    loose = rank(rates, 1)
    order = [r.officer_id for r in loose.ranked]
    assert order.index("steady") < order.index("lucky")
    # With the default threshold, the few are listed apart, never ranked.
    ranking = rank(rates, DEFAULTS["rank_min_ratings"])
    assert [r.officer_id for r in ranking.ranked] == ["steady", "weak"]
    assert [r.position for r in ranking.ranked] == [1, 2]
    assert [r.officer_id for r in ranking.too_few] == ["new", "lucky"]
    assert all(r.position is None for r in ranking.too_few)


def test_equal_lower_bounds_share_a_place() -> None:
    ranking = rank({"a": Rate(50, 40), "b": Rate(50, 40), "c": Rate(50, 10)}, 30)
    assert [(r.officer_id, r.position) for r in ranking.ranked] == [("a", 1), ("b", 1), ("c", 3)]


def test_periods_in_hanoi_count_local_days() -> None:
    day = Period.of(PeriodKind.DAY, date(2026, 3, 5), HANOI)
    # 06:30 local on the 5th is 23:30 UTC on the 4th, and belongs to the 5th.
    half_past_six = datetime(2026, 3, 5, 6, 30, tzinfo=HANOI).astimezone(UTC)
    assert half_past_six.day == 4
    assert day.start_utc <= half_past_six < day.end_utc
    assert day.start_utc == datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
    assert [(s.offset_s, s.start, s.end) for s in day.segments()] == [(25200, day.start_utc, day.end_utc)]

    week = Period.of(PeriodKind.WEEK, date(2026, 3, 5), HANOI)  # ISO week 10: Mon 2 – Sun 8 March
    assert (week.first, week.last) == (date(2026, 3, 2), date(2026, 3, 8))
    assert Period.of(PeriodKind.WEEK, date(2027, 1, 1), HANOI).first == date(2026, 12, 28)
    quarter = Period.of(PeriodKind.QUARTER, date(2026, 8, 19), HANOI)
    assert (quarter.first, quarter.last) == (date(2026, 7, 1), date(2026, 9, 30))
    half = Period.of(PeriodKind.HALF, date(2026, 6, 30), HANOI)
    assert (half.first, half.last) == (date(2026, 1, 1), date(2026, 6, 30))
    assert half.shift(1).first == date(2026, 7, 1) and half.shift(1).last == date(2026, 12, 31)
    year = Period.of(PeriodKind.YEAR, date(2024, 2, 29), HANOI)
    assert len(year.days()) == 366 and [b.first.month for b in year.buckets()] == list(range(1, 13))
    month = Period.of(PeriodKind.MONTH, date(2026, 2, 14), HANOI)
    assert (month.first, month.last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert month.shift(-2).first == date(2025, 12, 1)
    assert len(month.buckets()) == 28 and month.buckets(Grain.WEEK)[0].last == date(2026, 2, 1)
    custom = Period.between(date(2026, 1, 30), date(2026, 2, 2), HANOI)
    assert custom.days() == [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2)]
    with pytest.raises(ValueError):
        Period.between(date(2026, 2, 2), date(2026, 2, 1), HANOI)


def test_periods_in_a_zone_with_daylight_saving_time() -> None:
    # Paris moves from +01:00 to +02:00 at 01:00 UTC on 29 March 2026: that local day lasts 23 hours.
    spring = Period.of(PeriodKind.DAY, date(2026, 3, 29), PARIS)
    assert spring.start_utc == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert spring.end_utc == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    segments = spring.segments()
    assert [(s.offset_s, s.start, s.end) for s in segments] == [
        (3600, spring.start_utc, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        (7200, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), spring.end_utc),
    ]
    # Each stretch's offset gives the right local day for every instant in it.
    for segment in Period.of(PeriodKind.YEAR, date(2026, 1, 1), PARIS).segments():
        for instant in (segment.start, segment.end.replace(second=0) - (segment.end - segment.start) / 2):
            assert instant.astimezone(PARIS).utcoffset().total_seconds() == segment.offset_s
    assert len(Period.of(PeriodKind.YEAR, date(2026, 1, 1), PARIS).segments()) == 3
    autumn = Period.of(PeriodKind.DAY, date(2026, 10, 25), PARIS)
    assert (autumn.end_utc - autumn.start_utc).total_seconds() == 25 * 3600


def _group(level: str, *categories: str, count: int = 1, officer: str = "lan") -> RatingGroup:
    return RatingGroup(date(2026, 3, 5), officer, level, frozenset(categories), count)


def test_exclusion_switches() -> None:
    groups = [
        _group("very_satisfied", count=10), _group("dissatisfied", count=4),
        _group("satisfied", "simulated", count=5), _group("dissatisfied", "burst", count=3),
        _group("dissatisfied", "clock_off", "chain", count=2), _group("satisfied", "burst", "simulated", count=1),
    ]
    default = tally(groups, Exclusions())
    assert default.counted == 19 and default.excluded == 6 and default.total == 25
    assert default.apart == {"burst": 4, "simulated": 6, "clock_off": 2, "chain": 2,
                             "repeat_dossier": 0, "corrected": 0}
    assert default.rate == Rate(19, 10)
    assert tally(groups, Exclusions.none()).rate == Rate(25, 16)
    strict = tally(groups, Exclusions.all())
    assert strict.rate == Rate(14, 10) and strict.excluded == 11 and strict.apart == default.apart
    assert tally(groups, Exclusions(simulated=False, chain=True)).rate == Rate(23, 16)
    assert set(CATEGORIES) == set(default.apart)


def test_every_built_in_reason_has_a_heading_and_counts_right() -> None:
    assert set(REASON_HEADINGS) == BUILTIN_REASONS
    every_heading = {h for hs in HEADINGS.values() for h in hs}
    assert len(HEADINGS["five_know"]) == 5 and len(HEADINGS["three_show"]) == 3 and len(HEADINGS["four_aims"]) == 4
    assert all(set(hs) <= every_heading for hs in REASON_HEADINGS.values())
    groups = [
        ReasonGroup(("waited_long", "not_listening"), date(2026, 3, 5), "lan", "dissatisfied", frozenset(), 3),
        ReasonGroup(("fast",), date(2026, 3, 5), "lan", "very_satisfied", frozenset(), 5),
        ReasonGroup(("fast", "own-reason"), date(2026, 3, 5), "lan", "satisfied", frozenset({"simulated"}), 7),
    ]
    counts = reason_counts(groups, Exclusions())
    assert counts["waited_long"].faulted == 3 and counts["fast"].praised == 5 and "own-reason" not in counts
    headings = {h.heading: h for h in heading_counts(counts)}
    assert (headings["aim_faster"].praised, headings["aim_faster"].faulted) == (5, 3)
    assert headings["know_listen"].faulted == 3 and headings["know_thank"].praised == 0
    assert reason_counts(groups, Exclusions.none())["own-reason"].praised == 7


def test_settings_have_defaults_and_are_checked(tmp_path) -> None:
    engine = open_engine(tmp_path / "s.db")
    assert load_settings(engine) == ServerSettings("Asia/Ho_Chi_Minh", 30, "")
    assert save_setting(engine, "timezone", "Europe/Paris") == "Europe/Paris"
    save_setting(engine, "rank_min_ratings", "12")
    save_setting(engine, "commune_name", " Xã Hòa Bình ")
    settings = load_settings(engine)
    assert settings == ServerSettings("Europe/Paris", 12, "Xã Hòa Bình") and settings.zone == PARIS
    assert save_setting(engine, "survey_posts_per_hour", " 500 ") == 500
    assert load_settings(engine).survey_posts_per_hour == 500
    for key, value in (("timezone", "Mars/Olympus"), ("rank_min_ratings", 0), ("rank_min_ratings", "x"),
                       ("commune_name", "  "), ("colour", "red"), ("survey_posts_per_hour", 0),
                       ("survey_posts_per_hour", "10001"), ("survey_posts_per_hour", True),
                       ("survey_posts_per_hour", "０５"), ("home_visit_hours", "024"), ("home_visit_hours", 337)):
        with pytest.raises(SettingError):
            check_setting(key, value)
    engine.dispose()


def test_every_heading_has_words_in_both_languages() -> None:
    from server.i18n import catalogue

    for language in ("vi", "en"):
        words = catalogue(language)
        for group, headings in HEADINGS.items():
            assert words.get(f"scores.group.{group}"), (language, group)
            assert all(words.get(f"scores.heading.{h}") for h in headings), language
        assert all(words.get(f"scores.apart.{c}") for c in CATEGORIES)
        assert all(words.get(f"scores.period.{k}") for k in PeriodKind)
    assert catalogue("vi")["scores.group.five_know"] == "5 biết"
