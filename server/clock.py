"""Honest time: working out a device's clock offset and the corrected time
of each record, free of HTTP and databases.

Every batch carries the device's wall-clock time when it was sent, its
monotonic clock reading at that moment and its boot id. The server notes when
the batch arrived. That pair is an *anchor* for the boot: the monotonic clock
never jumps within a boot, so any record of the same boot can be placed on
the server's clock from its own monotonic reading, whatever the device's wall
clock said (a clock set three days wrong, or changed in the middle of the
day). Records of a boot that never sent a batch can only be shifted by the
device's latest offset, and say so in their ``method``.

The server's own clock is a :data:`Clock`: a function giving the current UTC
time. The services and the web application are given one (:func:`utc_now`
unless a test gives a clock it moves by hand), so nothing that depends on
the time of day has to be tested by waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = [
    "Clock",
    "utc_now",
    "METHOD_MONOTONIC",
    "METHOD_OFFSET",
    "BootAnchor",
    "ClockObservation",
    "CorrectedTime",
    "parse_device_time",
    "utc_text",
    "correct",
    "corrected",
    "newer_anchor",
    "clock_is_off",
]

METHOD_MONOTONIC = "monotonic"
"""Placed through the boot's monotonic clock: immune to wall-clock changes."""
METHOD_OFFSET = "offset"
"""Shifted by the device's latest offset: the best guess for a boot that
never talked to the server."""


Clock = Callable[[], datetime]
"""The server's clock: returns the current time, timezone-aware, in UTC."""


def utc_now() -> datetime:
    """The real current time in UTC: the server's clock outside tests."""
    return datetime.now(UTC)


@lru_cache(maxsize=4096)
def parse_device_time(text: str) -> datetime:
    """A record's or batch's device time as an aware datetime (remembered
    for a while: the ingest checks each record's, then places it).

    Raises ``ValueError`` for text that is not an ISO 8601 time with a UTC
    offset (a real date, a real offset), or whose moment in UTC falls outside
    the calendar Python can hold (``0001-01-01T00:00+14:00`` is still year 0
    in UTC): every later step converts to UTC, and must not fail there."""
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("device time has no UTC offset")
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise ValueError("device time is outside the years 1 to 9999 in UTC") from None
    return when


def utc_text(when: datetime) -> str:
    """Milliseconds ISO 8601 in UTC: the server's stored time format (sorts as text)."""
    if when.tzinfo is UTC:
        return when.isoformat(timespec="milliseconds")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ClockObservation:
    """One batch's view of the device clock: what the device said, when we heard it."""

    boot_id: str
    sent_monotonic_ns: int
    device_time: datetime
    received_at: datetime

    @property
    def offset_s(self) -> float:
        """Server receive time minus device time, in seconds (positive: the device is behind)."""
        return (self.received_at - self.device_time).total_seconds()

    def anchor(self) -> BootAnchor:
        """The anchor this observation gives its boot."""
        return BootAnchor(self.boot_id, self.sent_monotonic_ns, self.received_at)


@dataclass(frozen=True)
class BootAnchor:
    """A moment of one boot known on both clocks: the device's monotonic
    reading and the server's time."""

    boot_id: str
    monotonic_ns: int
    server_time: datetime

    def place(self, monotonic_ns: int) -> datetime:
        """Server time of another monotonic reading of the same boot."""
        return self.server_time - timedelta(microseconds=(self.monotonic_ns - monotonic_ns) / 1000)


@dataclass(frozen=True)
class CorrectedTime:
    """A record's time on the server's clock, and how it was worked out."""

    time: datetime
    method: str
    offset_s: float
    """Corrected minus device time, in seconds."""


def correct(
    device_time: datetime,
    boot_id: str,
    monotonic_ns: int,
    anchors: Mapping[str, BootAnchor],
    fallback_offset_s: float,
) -> CorrectedTime:
    """The corrected time of one record, in UTC.

    With an anchor for the record's boot, the monotonic distance to the anchor
    places it exactly; a wall-clock jump between the record and the batch does
    not move it. Without one, the device time is shifted by
    ``fallback_offset_s`` (the offset measured from the batch it came in).
    Raises ``OverflowError`` for a time that falls off the calendar.
    """
    return CorrectedTime(*corrected(device_time, boot_id, monotonic_ns, anchors, fallback_offset_s))


def corrected(
    device_time: datetime,
    boot_id: str,
    monotonic_ns: int,
    anchors: Mapping[str, BootAnchor],
    fallback_offset_s: float,
) -> tuple[datetime, str, float]:
    """:func:`correct`'s time, method and offset as a plain tuple (the plain
    batch's lane makes no object per record)."""
    anchor = anchors.get(boot_id)
    if anchor is not None:
        when = anchor.place(monotonic_ns).astimezone(UTC)
        method = METHOD_MONOTONIC
    else:
        when = (device_time + timedelta(seconds=fallback_offset_s)).astimezone(UTC)
        method = METHOD_OFFSET
    return when, method, (when - device_time).total_seconds()


def newer_anchor(existing: BootAnchor | None, observation: ClockObservation) -> bool:
    """Whether an observation should replace a boot's anchor.

    Only a later monotonic reading of the same boot does: a replayed old batch
    carries an old reading and cannot move the device's clock offset.
    """
    return existing is None or observation.sent_monotonic_ns > existing.monotonic_ns


def clock_is_off(offset_s: float | None, threshold_s: float) -> bool:
    """Whether a device's clock is further from the server's than allowed."""
    return offset_s is not None and abs(offset_s) > threshold_s
