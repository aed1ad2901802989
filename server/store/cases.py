"""The queries of follow-up cases and their events (:mod:`server.cases`
holds the rules).

The citizen's phone number is never written here: :func:`callback_phone`
reads it, when a page may show it, from the details record the tablet sent
(its verified wire body).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Column, Connection, func, insert, select, update

from server.store import tables
from sync.record import KIND_DETAILS, KIND_RATING

__all__ = [
    "add_case", "add_cases", "case_ids_by_rating", "add_event", "add_events", "add_audit_entries", "update_case",
    "case_by_id", "cases_by_rating", "case_by_comment", "cases_by_comments", "list_cases", "count_by_status",
    "events_of", "ratings_by_uuid", "callback_phone",
]

_CHUNK = 500


def add_case(conn: Connection, **values: Any) -> int:
    """Insert a case; its id."""
    return int(conn.execute(insert(tables.cases).values(**values)).inserted_primary_key[0])


def add_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert cases (rows with the same keys) at once."""
    if rows:
        conn.execute(insert(tables.cases), rows)


def case_ids_by_rating(conn: Connection, rating_uuids: Collection[str]) -> dict[str, int]:
    """The ids of the cases about these ratings, by rating UUID."""
    found: dict[str, int] = {}
    ordered = sorted(rating_uuids)
    for start in range(0, len(ordered), _CHUNK):
        query = (select(tables.cases.c.rating_uuid, tables.cases.c.id)
                 .where(tables.cases.c.rating_uuid.in_(ordered[start:start + _CHUNK])))
        found.update({row[0]: int(row[1]) for row in conn.execute(query)})
    return found


def add_event(conn: Connection, **values: Any) -> None:
    """Append one event to a case's history."""
    conn.execute(insert(tables.case_events).values(**values))


def add_audit_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append entries to the audit log at once (the cases the server opened
    itself, in the batch's transaction; :class:`server.accounts.AccountBook`
    audits the rest)."""
    if rows:
        conn.execute(insert(tables.audit_log), rows)


def add_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append events (rows with the same keys) at once."""
    if rows:
        conn.execute(insert(tables.case_events), rows)


def update_case(conn: Connection, case_id: int, **values: Any) -> None:
    """Change a case's columns."""
    conn.execute(update(tables.cases).where(tables.cases.c.id == case_id).values(**values))


def case_by_id(conn: Connection, case_id: int) -> dict[str, Any] | None:
    """One case's row."""
    row = conn.execute(select(tables.cases).where(tables.cases.c.id == case_id)).mappings().first()
    return dict(row) if row else None


def _cases_by(conn: Connection, column: Column, keys: Collection[Any]) -> dict[Any, dict[str, Any]]:
    """The cases whose ``column`` holds one of ``keys``, by that value (asked in chunks)."""
    found: dict[Any, dict[str, Any]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        query = select(tables.cases).where(column.in_(ordered[start:start + _CHUNK]))
        for row in conn.execute(query).mappings():
            found[row[column.name]] = dict(row)
    return found


def cases_by_rating(conn: Connection, rating_uuids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The cases already opened about these ratings, by rating UUID."""
    return _cases_by(conn, tables.cases.c.rating_uuid, rating_uuids)


def case_by_comment(conn: Connection, comment_id: int) -> dict[str, Any] | None:
    """The case opened about a comment, if any."""
    row = conn.execute(select(tables.cases).where(tables.cases.c.comment_id == comment_id)).mappings().first()
    return dict(row) if row else None


def cases_by_comments(conn: Connection, comment_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The cases opened about (or joined by) these comments, by comment id."""
    return _cases_by(conn, tables.cases.c.comment_id, comment_ids)


def list_cases(conn: Connection, *, statuses: Collection[str] | None = None, overdue_at: str | None = None,
               officer_id: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of cases, the most urgent first (earliest due date), then the
    newest, and how many there are in all. ``statuses`` keeps only those;
    ``overdue_at`` only those due before that time; ``officer_id`` only those
    about that officer."""
    cases = tables.cases
    conditions = []
    if statuses is not None:
        conditions.append(cases.c.status.in_(sorted(statuses)))
    if overdue_at is not None:
        conditions.append(cases.c.due_at <= overdue_at)
    if officer_id is not None:
        conditions.append(cases.c.officer_id == officer_id)
    total = conn.execute(select(func.count()).select_from(cases).where(*conditions)).scalar_one()
    query = (select(cases).where(*conditions).order_by(cases.c.due_at, cases.c.id.desc())
             .limit(limit).offset(offset))
    return [dict(row) for row in conn.execute(query).mappings()], int(total)


def count_by_status(conn: Connection, status: str) -> int:
    """How many cases have this status."""
    query = select(func.count()).select_from(tables.cases).where(tables.cases.c.status == status)
    return int(conn.execute(query).scalar_one())


def events_of(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """A case's events, oldest first."""
    events = tables.case_events
    query = select(events).where(events.c.case_id == case_id).order_by(events.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def ratings_by_uuid(conn: Connection, uuids: Collection[str]) -> dict[str, Mapping[str, Any]]:
    """Stored ratings' officer, scale and level, by UUID."""
    records = tables.records
    found: dict[str, Mapping[str, Any]] = {}
    ordered = sorted(uuids)
    for start in range(0, len(ordered), _CHUNK):
        query = (select(records.c.uuid, records.c.officer_id, records.c.scale, records.c.level)
                 .where(records.c.kind == KIND_RATING, records.c.uuid.in_(ordered[start:start + _CHUNK])))
        for row in conn.execute(query).mappings():
            found[row["uuid"]] = dict(row)
    return found


def callback_phone(conn: Connection, rating_uuid: str) -> str | None:
    """The number the citizen left for a call-back on the tablet: the newest
    details record of the rating that carries one, given with consent."""
    records = tables.records
    query = (select(records.c.callback_phone, records.c.callback_consent)
             .where(records.c.kind == KIND_DETAILS, records.c.rating_uuid == rating_uuid,
                    records.c.callback_requested.is_(True))
             .order_by(records.c.id.desc()).limit(1))
    found = conn.execute(query).first()
    if found is None:
        return None
    phone, consent = found
    return phone if consent and isinstance(phone, str) and phone else None
