"""The device's own time, as every table of the tablet's database writes it."""

from __future__ import annotations

from datetime import datetime

__all__ = ["device_time_text", "local_now"]


def local_now() -> datetime:
    """The device's local time, with its UTC offset."""
    return datetime.now().astimezone()


def device_time_text(when: datetime) -> str:
    """The record's time format: ISO 8601 local time, milliseconds, UTC offset."""
    return when.isoformat(timespec="milliseconds")
