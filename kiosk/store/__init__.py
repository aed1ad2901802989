"""The tablet's local store: every table of its SQLite file and all the SQL
that reads or writes them.

The file is in WAL mode, opened with :mod:`sqlite3`; its schema is one ordered
list of migrations (:mod:`kiosk.store.migrations`), which sqlite-utils applies. The ``journal`` holds the
device's chained records (see ``sync.record``) and is append-only: every
append is one ``BEGIN IMMEDIATE`` transaction committed with
``synchronous=FULL``, so a record whose :meth:`Store.append` has returned
survives a killed process or a power cut. Shifts, the audit trail, PIN
lock-out state and the outbox live beside it.

Modules: ``database`` (opening, pragmas, the write transaction),
``migrations``, ``journal``, ``shifts``, ``audit`` (audit trail and PIN
state), ``outbox`` (its tables and the uploader's :class:`Outbox`),
``sealing`` (the evolving key that seals each record), ``officer_day`` and
``export_rows`` (the reports' reads), and ``store``
(the :class:`Store` that opens the file and holds the parts).
"""

from kiosk.store.database import StoreError
from kiosk.store.device_time import device_time_text, local_now
from kiosk.store.outbox import AckSummary, Batch, Outbox
from kiosk.store.sealing import SealingState
from kiosk.store.shifts import Shift
from kiosk.store.store import Store

__all__ = [
    "AckSummary",
    "Batch",
    "Outbox",
    "SealingState",
    "Shift",
    "Store",
    "StoreError",
    "device_time_text",
    "local_now",
]
