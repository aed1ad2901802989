"""The :class:`Store`: one tablet database and the parts that work on it.

Each part owns its tables and their SQL: :class:`~kiosk.store.journal.Journal`,
:class:`~kiosk.store.shifts.ShiftLog`, :class:`~kiosk.store.audit.AuditTrail`,
:class:`~kiosk.store.audit.PinStates`, :class:`~kiosk.store.outbox.OutboxLedger`,
:class:`~kiosk.store.sealing.SealKeys`, :class:`~kiosk.store.callback_keys.CallbackKeys`,
the survey tables (:mod:`kiosk.store.surveys`), and the read-only :class:`~kiosk.store.officer_day.OfficerDayReads`. The
store opens the file once and hands the same connection to all of them.

The short methods on :class:`Store` are what the kiosk calls every day
(append a record, sign an officer in, write the audit); each hands over to
its part in one line. Reports (the officer's day, the export, the health
page) use the parts directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.store.audit import AuditTrail, PinStates
from kiosk.store.callback_keys import CallbackKeys
from kiosk.store.database import TabletDatabase
from kiosk.store.export_rows import RatingsSnapshot
from kiosk.store.journal import Journal
from kiosk.store.officer_day import OfficerDayReads
from kiosk.store.outbox import OutboxLedger
from kiosk.store.sealing import SealKeys
from kiosk.store.shifts import Shift, ShiftLog
from kiosk.store.surveys import SurveyCampaignCache, SurveyDrafts
from sync.record import ChainFinding, Record

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["Store"]


class Store:
    """The tablet's SQLite file. One per thread: connections do not cross threads."""

    def __init__(self, path: str | Path):
        self.database = TabletDatabase(path)
        self.journal = Journal(self.database)
        self.shift_log = ShiftLog(self.database)
        self.audit_trail = AuditTrail(self.database)
        self.pin_states = PinStates(self.database)
        self.outbox_ledger = OutboxLedger(self.database)
        self.officer_days = OfficerDayReads(self.database)
        self.seal_keys = SealKeys(self.database)
        self.callback_keys = CallbackKeys(self.database)
        self.survey_campaigns = SurveyCampaignCache(self.database)
        self.survey_drafts = SurveyDrafts(self.database)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.database.path

    @property
    def db(self) -> Database:
        """A sqlite-utils handle on the connection (for checks and tests; the
        store's own reads and writes use the connection itself)."""
        return self.database.db

    @property
    def device_id(self) -> str:
        """This tablet's identity, made when the file was created."""
        return self.database.device_id

    @property
    def device_secret_path(self) -> Path:
        """Where the secret this device got at pairing is kept: a file beside
        the database, readable by its owner only."""
        return self.path.parent / f"{self.path.stem}.device-secret.json"

    def close(self) -> None:
        """Close the connection."""
        self.database.close()

    def integrity_ok(self) -> bool:
        """SQLite's own check of the file."""
        return self.database.integrity_ok()

    def ratings_snapshot(self) -> RatingsSnapshot:
        """A read transaction over every rating, for the export (``with`` it)."""
        return RatingsSnapshot(self.database)

    # -- journal -----------------------------------------------------------

    def append(self, build: Callable[[int, str], Record],
               beside: Callable[[sqlite3.Connection, Record], None] | None = None) -> Record:
        """Append one record and commit it durably (see :meth:`Journal.append`)."""
        return self.journal.append(build, beside)

    def records(self, after_seq: int = 0, limit: int | None = None) -> list[Record]:
        """Records in sequence order, after ``after_seq``."""
        return self.journal.records(after_seq, limit)

    def record(self, uuid: str) -> Record | None:
        """The record with that UUID, if any."""
        return self.journal.record(uuid)

    def last_rating(self) -> Record | None:
        """The most recent rating (for burst detection)."""
        return self.journal.last_rating()

    def ratings(self, officer_id: str | None = None) -> list[Record]:
        """All rating records, optionally of one officer, in order."""
        return self.journal.ratings(officer_id)

    def details_for(self, rating_uuid: str) -> list[Record]:
        """Details records added to a rating."""
        return self.journal.details_for(rating_uuid)

    def count(self, kind: str | None = None) -> int:
        """How many records (of one kind) the journal holds."""
        return self.journal.count(kind)

    def verify(self) -> list[ChainFinding]:
        """Check the whole chain; an empty list means it is intact."""
        return self.journal.verify()

    # -- shifts ------------------------------------------------------------

    def current_shift(self, counter_id: str) -> Shift | None:
        """The open shift at a counter, if an officer is signed in."""
        return self.shift_log.current(counter_id)

    def start_shift(self, officer_id: str, counter_id: str, at: datetime) -> Shift:
        """Sign an officer in, ending whoever's shift was open at that counter."""
        return self.shift_log.start(officer_id, counter_id, at)

    def end_shift(self, counter_id: str, at: datetime) -> None:
        """Sign out whoever is signed in at a counter."""
        self.shift_log.end(counter_id, at)

    def shifts(self) -> list[Shift]:
        """Every shift, oldest first."""
        return self.shift_log.all()

    # -- audit and PIN state --------------------------------------------------

    def audit(self, action: str, *, actor: str | None = None, detail: dict | None = None) -> None:
        """Record a privileged action."""
        self.audit_trail.record(action, actor=actor, detail=detail)

    def audit_log(self) -> list[dict]:
        """Every audit entry, oldest first."""
        return self.audit_trail.entries()

    def pin_state(self, subject: str) -> dict:
        """The saved PIN state of ``subject``; empty when none was saved."""
        return self.pin_states.get(subject)

    def save_pin_state(self, subject: str, state: dict) -> None:
        """Keep the PIN state of ``subject`` durably."""
        self.pin_states.save(subject, state)

    # -- outbox (what the server has acknowledged) ------------------------------

    def pending_records(self, limit: int | None = None) -> list[Record]:
        """Records the server has not acknowledged yet, in sequence order."""
        return self.outbox_ledger.pending_records(limit)

    def pending_count(self) -> int:
        """How many records are waiting to be sent."""
        return self.outbox_ledger.pending_count()

    def acknowledge(self, acks: list[tuple[int, str, str, str]], at: datetime) -> None:
        """Note records as acknowledged by the server: ``(seq, uuid, status, detail)`` each."""
        self.outbox_ledger.acknowledge(acks, at)

    def acks(self) -> list[dict]:
        """The server's answer for every acknowledged record, in sequence order."""
        return self.outbox_ledger.acks()

    def outbox_state(self, key: str) -> str | None:
        """A value the uploader keeps across restarts."""
        return self.outbox_ledger.state(key)

    def set_outbox_state(self, key: str, value: str | None) -> None:
        """Keep (or, with ``None``, forget) an uploader value durably."""
        self.outbox_ledger.set_state(key, value)
