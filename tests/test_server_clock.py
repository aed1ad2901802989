"""Time correction and the pairing poll rules, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.clock import (
    METHOD_MONOTONIC,
    METHOD_OFFSET,
    BootAnchor,
    ClockObservation,
    clock_is_off,
    correct,
    newer_anchor,
    parse_device_time,
)
from server.registry import normalise_user_code, poll_decision

UTC = UTC
SERVER_NOW = datetime(2026, 3, 5, 1, 0, 0, tzinfo=UTC)


def test_offset_is_server_receive_time_minus_device_time():
    device = parse_device_time("2026-03-02T08:00:00.000+07:00")  # 3 days behind, in UTC+7
    obs = ClockObservation("b", 5 * 10**9, device, SERVER_NOW)
    assert obs.offset_s == 3 * 86400


def test_same_boot_record_is_placed_by_the_monotonic_clock():
    anchor = BootAnchor("b", 100 * 10**9, SERVER_NOW)
    # The record was taken 40 s of monotonic time before the batch, whatever its wall clock said.
    for wall in ("2020-01-01T00:00:00.000+00:00", "2026-03-05T08:59:20.000+07:00"):
        fixed = correct(parse_device_time(wall), "b", 60 * 10**9, {"b": anchor}, 0.0)
        assert fixed.method == METHOD_MONOTONIC
        assert fixed.time == SERVER_NOW - timedelta(seconds=40)


def test_record_of_an_unknown_boot_is_shifted_by_the_offset():
    device = parse_device_time("2026-03-02T08:00:00.000+07:00")
    fixed = correct(device, "old-boot", 1, {}, fallback_offset_s=3600)
    assert fixed.method == METHOD_OFFSET
    assert fixed.time == device + timedelta(hours=1) and fixed.offset_s == 3600


def test_only_a_later_monotonic_reading_moves_the_anchor():
    anchor = BootAnchor("b", 100, SERVER_NOW)
    assert newer_anchor(None, ClockObservation("b", 1, SERVER_NOW, SERVER_NOW))
    assert not newer_anchor(anchor, ClockObservation("b", 100, SERVER_NOW, SERVER_NOW))  # a replay
    assert newer_anchor(anchor, ClockObservation("b", 101, SERVER_NOW, SERVER_NOW))


def test_clock_threshold():
    assert clock_is_off(-301, 300) and clock_is_off(301, 300)
    assert not clock_is_off(299, 300) and not clock_is_off(None, 300)


def test_poll_decision_follows_rfc_8628():
    expires = SERVER_NOW + timedelta(minutes=15)
    assert poll_decision("pending", expires, None, 5, SERVER_NOW) == ("authorization_pending", 5)
    assert poll_decision("pending", expires, SERVER_NOW - timedelta(seconds=1), 5, SERVER_NOW) == ("slow_down", 10)
    assert poll_decision("approved", expires, SERVER_NOW - timedelta(seconds=6), 5, SERVER_NOW) == (None, 5)
    assert poll_decision("denied", expires, None, 5, SERVER_NOW)[0] == "access_denied"
    assert poll_decision("approved", SERVER_NOW, None, 5, SERVER_NOW)[0] == "expired_token"


def test_user_code_is_read_leniently():
    assert normalise_user_code("bcdf ghjk") == "BCDF-GHJK" == normalise_user_code("BCDFGHJK")
