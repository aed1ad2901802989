"""The rules of the counter (RatingDesk) and the simulator that drives them:
attribution, working hours, burst flags, details, the comment link."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import simulate
from kiosk.config import Settings, load_settings
from kiosk.desk import CounterClosed, DeviceClock, RatingDesk, is_valid_phone
from kiosk.store import Store
from sync.record import KIND_DETAILS, KIND_RATING
from tests.callback_support import give_server_key, open_number
from tests.conftest import ROOT, write_config

ICT = timezone(timedelta(hours=7))
MONDAY = datetime(2026, 1, 5, tzinfo=ICT)  # 5 January 2026 is a Monday


class SteeredClock:
    """Wall and monotonic clocks that move only when the test says so."""

    def __init__(self, start: datetime = MONDAY.replace(hour=9), boot: str = "boot-a"):
        self.wall = start
        self.mono_ns = 1_000_000_000
        self.boot_id = boot

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono_ns += int(seconds * 1e9)

    def device_clock(self) -> DeviceClock:
        return DeviceClock(now=lambda: self.wall, monotonic_ns=lambda: self.mono_ns, boot=lambda: self.boot_id)


def _settings(tmp_path: Path, tree: dict) -> Settings:
    return load_settings(write_config(tmp_path, tree))


@pytest.fixture
def opened() -> Iterator[list[Store]]:
    """Stores opened by a test, closed after it."""
    stores: list[Store] = []
    yield stores
    for s in stores:
        s.close()


def _desk(settings: Settings, opened: list[Store], clock: SteeredClock | None = None) -> RatingDesk:
    store = Store(settings.database)
    opened.append(store)
    return RatingDesk(settings, store, (clock or SteeredClock()).device_clock())


LEVELS = {
    3: ["dissatisfied", "satisfied", "very_satisfied"],
    4: ["very_dissatisfied", "dissatisfied", "satisfied", "very_satisfied"],
    5: ["very_dissatisfied", "dissatisfied", "neutral", "satisfied", "very_satisfied"],
}


@pytest.mark.parametrize("size", [3, 4, 5])
def test_every_level_of_every_scale(tmp_path: Path, demo_tree: dict, opened: list, size: int) -> None:
    demo_tree["rating"]["scale"] = size
    desk = _desk(_settings(tmp_path, demo_tree), opened)
    recorded = [desk.rate("le-thi-thu-ha", score) for score in range(1, size + 1)]
    assert [(r.score, r.scale, r.level) for r in recorded] == [
        (score, size, key) for score, key in enumerate(LEVELS[size], start=1)
    ]
    assert {r.officer_id for r in recorded} == {"le-thi-thu-ha"}
    assert {r.counter_id for r in recorded} == {"quay-1"}
    assert not any(r.simulated for r in recorded)
    # What rate() returned is what is on disk.
    assert desk.store.ratings() == recorded
    with pytest.raises(ValueError):
        desk.rate("le-thi-thu-ha", size + 1)
    with pytest.raises(ValueError):
        desk.rate("le-thi-thu-ha", 0)
    assert desk.store.count() == size


def test_unknown_officer_is_refused(config_path: Path, opened: list) -> None:
    desk = _desk(load_settings(config_path), opened)
    with pytest.raises(KeyError):
        desk.rate("nobody", 3)
    assert desk.store.count() == 0


def test_record_times_come_from_the_device_clock(config_path: Path, opened: list) -> None:
    clock = SteeredClock(MONDAY.replace(hour=9, minute=15, second=7))
    desk = _desk(load_settings(config_path), opened, clock)
    record = desk.rate("nguyen-thi-lan", 3)
    assert record.device_time == "2026-01-05T09:15:07.000+07:00"
    assert record.monotonic_ns == clock.mono_ns
    assert record.boot_id == "boot-a"
    assert record.device_id == desk.store.device_id


def test_details_are_linked_to_their_rating(config_path: Path, opened: list) -> None:
    desk = _desk(load_settings(config_path), opened)
    give_server_key(desk.store)
    rating = desk.rate("tran-van-hung", 1)
    details = desk.add_details(rating, ["waited_long", "come_back"], "0912345678", consent=True)
    assert details is not None and details.kind == KIND_DETAILS
    assert details.rating_uuid == rating.uuid
    assert details.reasons == ("waited_long", "come_back")
    # Sealed for the server: never in clear in the record.
    assert (details.callback_phone, details.callback_consent) == (None, True)
    sealed = desk.store.callback_keys.sealed_for([details.uuid])[details.uuid]
    assert open_number(details, sealed) == "0912345678"
    assert desk.store.details_for(rating.uuid) == [details]
    assert details.seq == rating.seq + 1 and details.prev_hash == rating.hash
    assert desk.store.verify() == []


def test_phone_without_consent_is_not_kept(config_path: Path, opened: list) -> None:
    desk = _desk(load_settings(config_path), opened)
    rating = desk.rate("tran-van-hung", 1)
    give_server_key(desk.store)
    details = desk.add_details(rating, ["late_result"], "0912345678", consent=False)
    assert details.callback_box is None and details.callback_consent is False
    # Nothing at all to keep: nothing is written.
    assert desk.add_details(rating, [], "0912345678", consent=False) is None
    assert desk.store.count() == 2
    stored = desk.store.details_for(rating.uuid)
    assert [d.callback_box for d in stored] == [None] and desk.store.callback_keys.count() == 0


@pytest.mark.parametrize("phone", ["12345", "0912 345 678", "+84912345678", "091234567", "09123456789012", ""])
def test_invalid_phone_is_not_kept(config_path: Path, opened: list, phone: str) -> None:
    desk = _desk(load_settings(config_path), opened)
    rating = desk.rate("tran-van-hung", 1)
    assert desk.add_details(rating, [], phone, consent=True) is None
    details = desk.add_details(rating, ["come_back"], phone, consent=True)
    assert details.callback_box is None and details.callback_consent is False


def test_phone_shape() -> None:
    assert is_valid_phone("0912345678")
    assert not is_valid_phone("9123456780")
    assert not is_valid_phone("０９１２３４５６７８")  # full-width digits


def test_burst_flagged_within_interval_and_not_after(config_path: Path, opened: list) -> None:
    clock = SteeredClock()
    settings = load_settings(config_path)
    assert settings.burst_interval_s == 5
    desk = _desk(settings, opened, clock)
    flags = []
    for gap in (0, 1, 4.9, 5.0, 30, 0.2):
        clock.advance(gap)
        flags.append(desk.rate("nguyen-thi-lan", 3).burst)
    assert flags == [False, True, True, False, False, True]
    # Flagged, never dropped.
    assert desk.store.count(KIND_RATING) == 6


def test_burst_detection_survives_a_restart(config_path: Path, opened: list) -> None:
    clock = SteeredClock()
    settings = load_settings(config_path)
    _desk(settings, opened, clock).rate("nguyen-thi-lan", 3)
    clock.advance(1)
    # The app restarts (same boot): the new desk finds the last tap on disk.
    assert _desk(settings, opened, clock).rate("nguyen-thi-lan", 3).burst is True


def test_burst_across_a_reboot_compares_wall_clocks(config_path: Path, opened: list) -> None:
    clock = SteeredClock()
    settings = load_settings(config_path)
    _desk(settings, opened, clock).rate("nguyen-thi-lan", 3)
    rebooted = SteeredClock(clock.wall + timedelta(seconds=2), boot="boot-b")
    rebooted.mono_ns = 5  # a fresh monotonic clock after the reboot
    assert _desk(settings, opened, rebooted).rate("nguyen-thi-lan", 3).burst is True
    rebooted.advance(60)
    assert _desk(settings, opened, rebooted).rate("nguyen-thi-lan", 3).burst is False


def test_burst_interval_zero_flags_nothing(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    demo_tree["rating"]["burst_interval_s"] = 0
    desk = _desk(_settings(tmp_path, demo_tree), opened)
    assert [desk.rate("nguyen-thi-lan", 3).burst for _ in range(3)] == [False, False, False]


def _counter_tree(tree: dict) -> dict:
    tree["attribution"] = {"mode": "counter"}
    return tree


def test_counter_mode_without_shift_is_closed(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    desk = _desk(_settings(tmp_path, _counter_tree(demo_tree)), opened)
    assert desk.officer_on_duty() is None
    assert desk.closed_reason() == "no_officer"
    with pytest.raises(CounterClosed) as caught:
        desk.rate("nguyen-thi-lan", 3)
    assert caught.value.reason == "no_officer"
    assert desk.store.count() == 0


def test_sign_in_attributes_ratings_to_the_officer_on_duty(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    clock = SteeredClock()
    desk = _desk(_settings(tmp_path, _counter_tree(demo_tree)), opened, clock)
    desk.sign_in("pham-minh-tuan")
    assert desk.closed_reason() is None
    first = desk.rate(desk.officer_on_duty().id, 2)
    clock.advance(3600)
    desk.sign_in("hoang-thi-mai")  # the next shift takes over the counter
    second = desk.rate(desk.officer_on_duty().id, 3)
    assert (first.officer_id, second.officer_id) == ("pham-minh-tuan", "hoang-thi-mai")
    assert [a["action"] for a in desk.store.audit_log()] == ["shift_start", "shift_start"]
    desk.sign_out()
    assert desk.closed_reason() == "no_officer"
    assert desk.store.audit_log()[-1]["action"] == "shift_end"
    with pytest.raises(KeyError):
        desk.sign_in("nobody")


def test_shift_of_an_officer_deactivated_since_closes_the_counter(
    tmp_path: Path, demo_tree: dict, opened: list
) -> None:
    settings = _settings(tmp_path, _counter_tree(demo_tree))
    _desk(settings, opened).sign_in("vu-ngoc-anh")
    demo_tree["officers"][5]["active"] = False
    desk = _desk(_settings(tmp_path, demo_tree), opened)
    assert desk.closed_reason() == "no_officer"


def _hours_tree(tree: dict) -> dict:
    tree["working_hours"]["enforce"] = True
    return tree


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (MONDAY.replace(hour=20), "outside_hours"),
        (MONDAY.replace(hour=8), None),
        (MONDAY.replace(hour=7, minute=29), "outside_hours"),
        (MONDAY.replace(hour=7, minute=30), None),
        (MONDAY.replace(hour=12), "outside_hours"),  # lunch break
        (MONDAY.replace(hour=17), "outside_hours"),  # the end is exclusive
        (MONDAY.replace(hour=9) + timedelta(days=5), None),  # Saturday morning
        (MONDAY.replace(hour=14) + timedelta(days=5), "outside_hours"),  # Saturday afternoon
        (MONDAY.replace(hour=9) + timedelta(days=6), "outside_hours"),  # Sunday
    ],
)
def test_working_hours_enforced(
    tmp_path: Path, demo_tree: dict, opened: list, when: datetime, reason: str | None
) -> None:
    clock = SteeredClock(when)
    desk = _desk(_settings(tmp_path, _hours_tree(demo_tree)), opened, clock)
    assert desk.closed_reason() == reason
    if reason is None:
        assert desk.rate("nguyen-thi-lan", 3).device_time.startswith(when.strftime("%Y-%m-%dT%H:%M"))
    else:
        with pytest.raises(CounterClosed) as caught:
            desk.rate("nguyen-thi-lan", 3)
        assert caught.value.reason == reason
        assert desk.store.count() == 0


def test_hours_checked_before_the_officer(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    """At night the screen says the counter is closed for the night, not
    that no officer is signed in."""
    clock = SteeredClock(MONDAY.replace(hour=20))
    desk = _desk(_settings(tmp_path, _hours_tree(_counter_tree(demo_tree))), opened, clock)
    assert desk.closed_reason() == "outside_hours"


def test_hours_not_enforced_records_at_night(config_path: Path, opened: list) -> None:
    clock = SteeredClock(MONDAY.replace(hour=23))
    desk = _desk(load_settings(config_path), opened, clock)
    assert desk.rate("nguyen-thi-lan", 3).device_time.startswith("2026-01-05T23:00")


def test_officer_mode_attributes_to_its_officer(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    demo_tree["attribution"] = {"mode": "officer", "officer": "le-thi-thu-ha"}
    desk = _desk(_settings(tmp_path, demo_tree), opened)
    assert desk.closed_reason() is None
    assert desk.officer_on_duty().id == "le-thi-thu-ha"
    assert desk.rate(desk.officer_on_duty().id, 1).officer_id == "le-thi-thu-ha"


def test_choose_mode_needs_no_shift(config_path: Path, opened: list) -> None:
    desk = _desk(load_settings(config_path), opened)
    assert desk.officer_on_duty() is None
    assert desk.closed_reason() is None
    assert desk.rate("hoang-thi-mai", 2).officer_id == "hoang-thi-mai"


@pytest.mark.parametrize("url", ["http://hailong.local:8080", "https://ubnd.example.vn/hailong/"])
def test_comment_url(tmp_path: Path, demo_tree: dict, opened: list, url: str) -> None:
    demo_tree["server"]["url"] = url
    desk = _desk(_settings(tmp_path, demo_tree), opened)
    rating = desk.rate("nguyen-thi-lan", 3)
    link = desk.comment_url(rating)
    assert link == f"{url.rstrip('/')}/c/{rating.uuid}?t={rating.comment_token}"
    assert re.fullmatch(r"https?://[^\s]+/c/[0-9a-f-]{36}\?t=[A-Za-z0-9_-]{16}", link), link
    # Each rating gets its own unguessable token.
    assert desk.rate("nguyen-thi-lan", 3).comment_token != rating.comment_token


# -- the simulator ------------------------------------------------------------


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.simulate", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def test_simulate_cli_records_simulated_ratings(config_path: Path) -> None:
    result = _simulate("--config", str(config_path), "--count", "40", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "simulated 40 ratings" in result.stdout
    assert "chain: intact" in result.stdout
    store = Store(load_settings(config_path).database)
    ratings = store.ratings()
    assert len(ratings) == 40
    assert all(r.simulated for r in ratings)
    assert all(r.simulated for r in store.records() if r.kind == KIND_DETAILS)
    assert store.verify() == [] and store.integrity_ok()
    # As fast as the disk allows: every tap after the first is a burst, and
    # the summary says so.
    assert [r.burst for r in ratings] == [False] + [True] * 39
    assert "burst-flagged: 39" in result.stdout
    store.close()


def _run_simulate(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = simulate.main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_simulate_seed_is_reproducible(config_path: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a.db", "b.db"):
        status, _, _ = _run_simulate(
            "--config", str(config_path), "--count", "150", "--seed", "42", "--database", str(tmp_path / name)
        )
        assert status == 0
        store = Store(tmp_path / name)
        runs.append(
            [(r.kind, r.officer_id, r.score, r.reasons, r.callback_phone) for r in store.records()]
        )
        store.close()
    assert runs[0] == runs[1]
    status, _, _ = _run_simulate(
        "--config", str(config_path), "--count", "150", "--seed", "43", "--database", str(tmp_path / "c.db")
    )
    store = Store(tmp_path / "c.db")
    assert [(r.kind, r.officer_id, r.score) for r in store.records()] != [(k, o, s) for k, o, s, _, _ in runs[0]]
    store.close()


def test_simulate_looks_like_a_counter(config_path: Path) -> None:
    """Mostly satisfied, a tail of unhappy ones with reasons, every active
    officer rated, call-back numbers that are obviously fake."""
    status, out, _ = _run_simulate("--config", str(config_path), "--count", "600", "--seed", "1", "--quiet")
    assert status == 0
    store = Store(load_settings(config_path).database)
    ratings = store.ratings()
    levels = Counter(r.level for r in ratings)
    assert levels["very_satisfied"] > levels["satisfied"] > levels["dissatisfied"] > 0
    assert len({r.officer_id for r in ratings}) == 6
    details = [r for r in store.records() if r.kind == KIND_DETAILS]
    low = {r.uuid for r in ratings if r.level == "dissatisfied"}
    low_reasons = [d for d in details if d.rating_uuid in low and d.reasons]
    assert low_reasons, "low ratings come with reasons"
    low_ids = {r.id for r in load_settings(config_path).low_reasons}
    assert all(set(d.reasons) <= low_ids for d in low_reasons)
    assert all(d.callback_phone.startswith(simulate.FAKE_PHONE_PREFIX) for d in details if d.callback_phone)
    assert f"by level: Rất hài lòng (very_satisfied) {levels['very_satisfied']}" in out
    store.close()


def test_simulate_counter_mode_signs_in_and_out(tmp_path: Path, demo_tree: dict) -> None:
    config = write_config(tmp_path, _counter_tree(demo_tree))
    status, _, err = _run_simulate("--config", str(config), "--count", "5", "--officer", "tran-van-hung")
    assert status == 0
    assert "signed in tran-van-hung" in err
    store = Store(load_settings(config).database)
    assert {r.officer_id for r in store.ratings()} == {"tran-van-hung"}
    assert store.current_shift("quay-1") is None  # signed out again
    assert [a["action"] for a in store.audit_log()] == ["shift_start", "shift_end"]
    store.close()


def test_simulate_counter_mode_rates_whoever_is_on_duty(tmp_path: Path, demo_tree: dict) -> None:
    config = write_config(tmp_path, _counter_tree(demo_tree))
    settings = load_settings(config)
    store = Store(settings.database)
    RatingDesk(settings, store).sign_in("hoang-thi-mai")
    status, _, err = _run_simulate("--config", str(config), "--count", "5")
    assert status == 0, err
    assert {r.officer_id for r in store.ratings()} == {"hoang-thi-mai"}
    assert store.current_shift("quay-1").officer_id == "hoang-thi-mai"  # left on duty
    # Asking for someone else while she is on duty is refused, not obeyed.
    status, _, err = _run_simulate("--config", str(config), "--count", "5", "--officer", "tran-van-hung")
    assert status == 1 and "hoang-thi-mai is on duty" in err
    assert store.count(KIND_RATING) == 5
    store.close()


def test_simulate_closed_counter_exits_with_one_line(tmp_path: Path, demo_tree: dict) -> None:
    # Enforced hours with no session on any day: closed whenever the test runs.
    demo_tree["working_hours"] = {"enforce": True}
    config = write_config(tmp_path, demo_tree)
    result = _simulate("--config", str(config), "--count", "5")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "Outside working hours" in result.stderr and "--ignore-hours" in result.stderr
    if load_settings(config).database.exists():
        untouched = Store(load_settings(config).database)
        assert untouched.count() == 0
        untouched.close()

    status, out, err = _run_simulate("--config", str(config), "--count", "5", "--ignore-hours")
    assert status == 0 and "--ignore-hours" in err
    store = Store(load_settings(config).database)
    assert store.count(KIND_RATING) == 5 and all(r.simulated for r in store.ratings())
    store.close()


def test_simulate_broken_config_is_one_line(tmp_path: Path, demo_tree: dict) -> None:
    demo_tree["rating"]["scale"] = 6
    config = write_config(tmp_path, demo_tree)
    result = _simulate("--config", str(config), "--count", "5")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "rating.scale" in result.stderr and "must be one of: 3, 4, 5" in result.stderr


def test_simulate_refuses_unknown_officer(config_path: Path) -> None:
    status, _, err = _run_simulate("--config", str(config_path), "--count", "5", "--officer", "nobody")
    assert status == 2 and "nobody" in err


def test_simulate_officer_mode_refuses_another_officer(tmp_path: Path, demo_tree: dict) -> None:
    demo_tree["attribution"] = {"mode": "officer", "officer": "le-thi-thu-ha"}
    config = write_config(tmp_path, demo_tree)
    status, _, err = _run_simulate("--config", str(config), "--count", "3", "--officer", "vu-ngoc-anh")
    assert status == 2 and "le-thi-thu-ha" in err
    status, _, _ = _run_simulate("--config", str(config), "--count", "3")
    store = Store(load_settings(config).database)
    assert status == 0 and {r.officer_id for r in store.ratings()} == {"le-thi-thu-ha"}
    store.close()


def test_only_the_officer_who_may_be_rated_gets_a_rating(tmp_path: Path, demo_tree: dict, opened: list) -> None:
    """Counter mode: only the officer on duty; choose mode: no inactive officer."""
    desk = _desk(_settings(tmp_path, _counter_tree(demo_tree)), opened)
    desk.sign_in("tran-van-hung")
    with pytest.raises(KeyError):
        desk.rate("nguyen-thi-lan", 3)
    assert desk.rate("tran-van-hung", 3).officer_id == "tran-van-hung"

    demo_tree["attribution"]["mode"] = "choose"
    demo_tree["officers"][1]["active"] = False
    (tmp_path / "choose").mkdir()
    chooser = _desk(_settings(tmp_path / "choose", demo_tree), opened)
    with pytest.raises(KeyError):
        chooser.rate(demo_tree["officers"][1]["id"], 3)
    assert chooser.rate(demo_tree["officers"][0]["id"], 3).officer_id == demo_tree["officers"][0]["id"]
    assert chooser.store.count(KIND_RATING) == 1
