"""The audit trail of privileged actions, and the PIN lock-out state."""

from __future__ import annotations

import json

from kiosk.store.database import TabletDatabase
from kiosk.store.device_time import device_time_text, local_now

__all__ = ["AuditTrail", "PinStates"]


class AuditTrail:
    """Privileged actions (sign-ins, exports, lock-outs...), kept in order."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def record(self, action: str, *, actor: str | None = None, detail: dict | None = None) -> None:
        """Record a privileged action, stamped with the device's time now."""
        with self.database.write() as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                [
                    device_time_text(local_now()),
                    actor,
                    action,
                    json.dumps(detail or {}, ensure_ascii=False),
                ],
            )

    def entries(self) -> list[dict]:
        """Every entry, oldest first."""
        return list(self.database.query("SELECT * FROM audit ORDER BY id"))

    def latest(self, n: int) -> list[dict]:
        """The ``n`` latest entries, newest first."""
        return [
            dict(row)
            for row in self.database.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [n])
        ]


class PinStates:
    """Failed PIN attempts and lock-outs, per subject, across restarts."""

    def __init__(self, database: TabletDatabase):
        self.database = database

    def get(self, subject: str) -> dict:
        """The saved state of ``subject``; empty when none was saved."""
        row = self.database.execute(
            "SELECT state FROM pin_state WHERE subject = ?", [subject]
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def save(self, subject: str, state: dict) -> None:
        """Keep the state of ``subject`` durably, replacing the previous one."""
        with self.database.write() as conn:
            conn.execute(
                "INSERT INTO pin_state (subject, state) VALUES (?, ?) "
                "ON CONFLICT(subject) DO UPDATE SET state = excluded.state",
                [subject, json.dumps(state)],
            )
