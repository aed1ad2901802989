"""The queries of call-back numbers (:mod:`server.callback_numbers` holds the
rules): the server's key pair, each number's sealed key, its erasure.

Nothing here ever holds a number in clear: the tablet's details record keeps
it encrypted (``callback_box``), this table the key that opens it, sealed to
the server's public key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from server.store import tables
from sync.record import KIND_DETAILS

__all__ = [
    "key_pair", "add_key_pair", "add_sealed_keys", "details_with_box", "newest_callback",
    "erase_for_ratings", "ratings_resolved_before", "callback_details_of",
]

_CHUNK = 500


def key_pair(conn: Connection, name: str) -> tuple[bytes, bytes] | None:
    """The public and private key of the server's key pair ``name``, if made."""
    row = conn.execute(select(tables.server_keys.c.public_key, tables.server_keys.c.private_key)
                       .where(tables.server_keys.c.name == name)).first()
    return (bytes(row[0]), bytes(row[1])) if row else None


def add_key_pair(conn: Connection, name: str, public: bytes, private: bytes, stamp: str) -> None:
    """Keep a new key pair."""
    conn.execute(insert(tables.server_keys).values(name=name, public_key=public, private_key=private,
                                                   created_at=stamp))


def details_with_box(conn: Connection, device_id: str, uuids: Collection[str]) -> dict[str, str]:
    """Of these details records of the device, those that carry an encrypted
    number: their rating's UUID, by record UUID."""
    records = tables.records
    found: dict[str, str] = {}
    ordered = sorted(uuids)
    for start in range(0, len(ordered), _CHUNK):
        query = (select(records.c.uuid, records.c.rating_uuid)
                 .where(records.c.device_id == device_id, records.c.kind == KIND_DETAILS,
                        records.c.uuid.in_(ordered[start:start + _CHUNK]), records.c.callback_box.is_not(None)))
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found


def add_sealed_keys(conn: Connection, device_id: str, rows: Iterable[tuple[str, str, bytes]], stamp: str) -> int:
    """Keep ``(record UUID, rating UUID, sealed key)`` rows the device sent,
    but never over a row already there (kept or erased: an erased key stays
    erased whatever is sent again). How many were new."""
    keys = tables.callback_keys
    wanted = {uuid: (rating, sealed) for uuid, rating, sealed in rows}
    if not wanted:
        return 0
    present = {row[0] for row in conn.execute(
        select(keys.c.record_uuid).where(keys.c.device_id == device_id, keys.c.record_uuid.in_(sorted(wanted))))}
    new = [dict(record_uuid=uuid, device_id=device_id, rating_uuid=rating, sealed_key=sealed, received_at=stamp)
           for uuid, (rating, sealed) in sorted(wanted.items()) if uuid not in present]
    if new:
        conn.execute(insert(keys), new)
    return len(new)


def newest_callback(conn: Connection, rating_uuid: str) -> dict[str, Any] | None:
    """The newest details record of a rating that asks for a call-back, with
    its sealed key's row when there is one: ``callback_phone`` (formats 1
    and 2, in clear), ``callback_box`` (format 3), ``callback_consent``,
    ``sealed_key`` and ``erased_at``."""
    records, keys = tables.records, tables.callback_keys
    joined = records.outerjoin(keys, and_(keys.c.record_uuid == records.c.uuid,
                                          keys.c.device_id == records.c.device_id))
    query = (select(records.c.uuid, records.c.device_id, records.c.callback_phone, records.c.callback_box,
                    records.c.callback_consent, keys.c.sealed_key, keys.c.erased_at)
             .select_from(joined)
             .where(records.c.kind == KIND_DETAILS, records.c.rating_uuid == rating_uuid,
                    records.c.callback_requested.is_(True))
             .order_by(records.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def callback_details_of(conn: Connection, rating_uuid: str) -> list[tuple[str, str]]:
    """Every details record of a rating that asks for a call-back: (UUID, device)."""
    records = tables.records
    query = select(records.c.uuid, records.c.device_id).where(
        records.c.kind == KIND_DETAILS, records.c.rating_uuid == rating_uuid, records.c.callback_requested.is_(True))
    return [(row[0], row[1]) for row in conn.execute(query)]


def erase_for_ratings(conn: Connection, rating_uuids: Collection[str], *, at: str, by: str | None,
                      reason: str) -> int:
    """Destroy the number keys of these ratings' call-back requests. Records
    whose key never arrived (or that kept the number in clear, formats 1 and
    2) get an erased row too, so no page shows them again. How many numbers
    were erased now (not counting those erased before)."""
    keys = tables.callback_keys
    erased = 0
    for rating_uuid in sorted(rating_uuids):
        details = callback_details_of(conn, rating_uuid)
        if not details:
            continue
        rows = {(r[0], r[1]): r for r in conn.execute(
            select(keys.c.record_uuid, keys.c.device_id, keys.c.erased_at).where(keys.c.rating_uuid == rating_uuid))}
        for uuid, device_id in details:
            row = rows.get((uuid, device_id))
            if row is None:
                conn.execute(insert(keys).values(record_uuid=uuid, device_id=device_id, rating_uuid=rating_uuid,
                                                 sealed_key=None, received_at=at, erased_at=at, erased_by=by,
                                                 erase_reason=reason))
                erased += 1
            elif row[2] is None:
                conn.execute(update(keys).where(keys.c.record_uuid == uuid, keys.c.device_id == device_id)
                             .values(sealed_key=None, erased_at=at, erased_by=by, erase_reason=reason))
                erased += 1
    return erased


def ratings_resolved_before(conn: Connection, before: str) -> list[str]:
    """Ratings whose case asked for a call-back and was resolved before
    ``before``, and that still have a number not erased."""
    cases, records, keys = tables.cases, tables.records, tables.callback_keys
    joined = cases.join(records, and_(records.c.rating_uuid == cases.c.rating_uuid,
                                      records.c.kind == KIND_DETAILS, records.c.callback_requested.is_(True)))
    joined = joined.outerjoin(keys, and_(keys.c.record_uuid == records.c.uuid,
                                         keys.c.device_id == records.c.device_id))
    query = (select(cases.c.rating_uuid).distinct().select_from(joined)
             .where(cases.c.status == "resolved", cases.c.resolved_at < before, cases.c.callback.is_(True),
                    keys.c.erased_at.is_(None)))
    return [row[0] for row in conn.execute(query)]
