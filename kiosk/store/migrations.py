"""The tablet database's schema, as one ordered list of migration steps.

Each step runs once per file, in the order of :data:`STEPS`, and sqlite-utils
records its name in ``_sqlite_migrations``. The names and their order are
what a file already on a tablet remembers: never rename, reorder or remove a
step; add new ones at the end.

A tablet's start only reads that table (:func:`up_to_date`, plain SQLite);
sqlite-utils is imported by :func:`migrations`, when there are steps to apply.
"""

from __future__ import annotations

import sqlite3
import uuid as uuid_module
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATION_SET", "STEPS", "migrations", "up_to_date"]

MIGRATION_SET = "hailong-kiosk"

# Where sqlite-utils' Migrations record the steps applied (its ``migrations_table``).
_APPLIED_TABLE = "_sqlite_migrations"


def m001_journal(db: Database) -> None:
    """The chained records, append-only."""
    db["journal"].create(
        {
            "seq": int,
            "uuid": str,
            "kind": str,
            "v": int,
            "device_id": str,
            "prev_hash": str,
            "hash": str,
            "device_time": str,
            "monotonic_ns": int,
            "boot_id": str,
            "app_version": str,
            "simulated": int,
            "officer_id": str,
            "counter_id": str,
            "score": int,
            "scale": int,
            "level": str,
            "burst": int,
            "comment_token": str,
            "rating_uuid": str,
            "reasons": str,
            "callback_phone": str,
            "callback_consent": int,
        },
        pk="seq",
        not_null={"uuid", "kind", "hash", "prev_hash", "device_time"},
    )
    db["journal"].create_index(["uuid"], unique=True)
    # The officer's day reads ratings by officer and time through this index.
    db["journal"].create_index(["kind", "officer_id", "device_time"])
    db["journal"].create_index(["rating_uuid"])
    db.execute(
        "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal "
        "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal "
        "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"
    )


def m002_device(db: Database) -> None:
    """The device's identity, made once."""
    db["device"].create({"key": str, "value": str}, pk="key")
    db["device"].insert({"key": "device_id", "value": str(uuid_module.uuid4())})


def m003_shifts_audit_pins(db: Database) -> None:
    """Officer shifts, the audit log and PIN lock-out state."""
    db["shifts"].create(
        {
            "id": int,
            "officer_id": str,
            "counter_id": str,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
        not_null={"officer_id", "counter_id", "started_at"},
    )
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "detail": str},
        pk="id",
        not_null={"at", "action"},
    )
    db["pin_state"].create({"subject": str, "state": str}, pk="subject")


def m004_outbox(db: Database) -> None:
    """What the server has acknowledged, and the uploader's state across restarts."""
    db["outbox_acks"].create(
        {"seq": int, "uuid": str, "status": str, "detail": str, "acked_at": str},
        pk="seq",
        not_null={"uuid", "status", "acked_at"},
    )
    db["outbox_state"].create({"key": str, "value": str}, pk="key")


def m005_sealing(db: Database) -> None:
    """Forward-secure seals (``sync.seal``): each record's seal, and the
    evolving key. ``seal_keys`` holds at most two rows: ``current`` (the key
    of the next record to seal, overwritten by every append) and, until the
    server has it, ``registration`` (the first key and its sequence number)."""
    db["journal"].add_column("seal", str)
    db["seal_keys"].create({"slot": str, "seq": int, "key": bytes}, pk="slot", not_null={"seq", "key"})


def m006_dossier_code(db: Database) -> None:
    """Format 3: a rating's dossier code (a correction reuses the rating's columns)."""
    db["journal"].add_column("dossier_code", str)


def m007_callback_box(db: Database) -> None:
    """Format 3: the call-back number encrypted in the details record, and
    each number's own key sealed to the server, kept outside the chain until
    the server has it (:mod:`kiosk.store.callback_keys`)."""
    db["journal"].add_column("callback_box", str)
    db["callback_keys"].create({"record_uuid": str, "sealed_key": bytes}, pk="record_uuid",
                               not_null={"sealed_key"})


def m008_surveys(db: Database) -> None:
    """Format 4: the survey record's columns in the journal; the campaigns
    last received from the server (one row, so the tablet knows them
    offline); and the survey being answered now, one answer at a time, until
    its record is chained (:mod:`kiosk.store.surveys`)."""
    for name, kind in (("campaign_id", str), ("questionnaire_id", str), ("questionnaire_version", int),
                       ("answers", str), ("complete", int)):
        db["journal"].add_column(name, kind)
    db["survey_campaigns"].create({"slot": str, "body": str, "received_at": str}, pk="slot",
                                  not_null={"body", "received_at"})
    db["survey_drafts"].create(
        {"id": int, "campaign_id": str, "questionnaire_id": str, "questionnaire_version": int, "answers": str,
         "started_at": str, "updated_at": str},
        pk="id",
        not_null={"campaign_id", "questionnaire_id", "questionnaire_version", "answers", "started_at", "updated_at"},
    )


STEPS: tuple[Callable[[Database], None], ...] = (
    m001_journal,
    m002_device,
    m003_shifts_audit_pins,
    m004_outbox,
    m005_sealing,
    m006_dossier_code,
    m007_callback_box,
    m008_surveys,
)
"""Every step, in the order it is applied; a step's name is its function's name."""


def up_to_date(conn: sqlite3.Connection) -> bool:
    """Whether the file has every step of :data:`STEPS` applied, read without sqlite-utils."""
    try:
        rows = conn.execute(f"SELECT name FROM {_APPLIED_TABLE} WHERE migration_set = ?", [MIGRATION_SET])
        applied = {name for (name,) in rows}
    except sqlite3.OperationalError:  # no such table: a new file
        return False
    return all(step.__name__ in applied for step in STEPS)


@cache
def migrations() -> Migrations:
    """The set sqlite-utils applies: :data:`STEPS`, registered in order.
    Made on first call, as importing sqlite-utils cost a cold start 50 ms."""
    from sqlite_utils.migrations import Migrations

    steps = Migrations(MIGRATION_SET)
    for step in STEPS:
        steps()(step)
    return steps
