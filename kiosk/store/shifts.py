"""Officer shifts: who is signed in at which counter, from when until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.store.database import TabletDatabase
from kiosk.store.device_time import device_time_text

__all__ = ["Shift", "ShiftLog"]


@dataclass(frozen=True)
class Shift:
    """An officer signed in at a counter, from ``started_at`` until ``ended_at``."""

    id: int
    officer_id: str
    counter_id: str
    started_at: str
    ended_at: str | None


class ShiftLog:
    """The shifts of one tablet database."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def current(self, counter_id: str) -> Shift | None:
        """The open shift at a counter, if an officer is signed in."""
        # Asked at every tap: one plain statement (no savepoint around it).
        row = self.database.conn.execute(
            "SELECT id, officer_id, counter_id, started_at, ended_at FROM shifts"
            " WHERE counter_id = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
            [counter_id],
        ).fetchone()
        return Shift(*row) if row else None

    def start(self, officer_id: str, counter_id: str, at: datetime) -> Shift:
        """Sign an officer in, ending whoever's shift was open at that counter."""
        stamp = device_time_text(at)
        with self.database.write() as conn:
            conn.execute(
                "UPDATE shifts SET ended_at = ? WHERE counter_id = ? AND ended_at IS NULL",
                [stamp, counter_id],
            )
            cursor = conn.execute(
                "INSERT INTO shifts (officer_id, counter_id, started_at) VALUES (?, ?, ?)",
                [officer_id, counter_id, stamp],
            )
            shift_id = cursor.lastrowid
        return Shift(shift_id, officer_id, counter_id, stamp, None)

    def end(self, counter_id: str, at: datetime) -> None:
        """Sign out whoever is signed in at a counter."""
        with self.database.write() as conn:
            conn.execute(
                "UPDATE shifts SET ended_at = ? WHERE counter_id = ? AND ended_at IS NULL",
                [device_time_text(at), counter_id],
            )

    def all(self) -> list[Shift]:
        """Every shift, oldest first."""
        return [Shift(**row) for row in self.database.query("SELECT * FROM shifts ORDER BY id")]
