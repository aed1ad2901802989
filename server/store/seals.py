"""The queries of the devices' sealing keys (:mod:`server.seals`): the key
row on ``devices`` and the count of records kept unsealed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from server.store import tables

__all__ = ["seal_key_row", "save_first_key", "unsealed_counts"]

_D = tables.devices


def seal_key_row(conn: Connection, device_id: str) -> Mapping[str, Any] | None:
    """The device's seal columns and chain head, locked until the transaction ends; None for an unknown device."""
    return conn.execute(
        select(_D.c.device_id, _D.c.head_seq, _D.c.seal_first_seq, _D.c.seal_seq, _D.c.seal_key, _D.c.seal_key_id)
        .where(_D.c.device_id == device_id).with_for_update()
    ).mappings().first()


def save_first_key(conn: Connection, device_id: str, first_seq: int, key: bytes, key_id: str) -> None:
    """Keep a device's first sealing key."""
    conn.execute(update(_D).where(_D.c.device_id == device_id).values(
        seal_first_seq=first_seq, seal_seq=first_seq, seal_key=key, seal_key_id=key_id))


def unsealed_counts(conn: Connection, device_id: str | None = None) -> dict[str, int]:
    """How many records each device has kept from before its first sealed
    one; devices that never registered a key are left out (all their
    records are unsealed: ``records_count``)."""
    r = tables.records
    query = (
        select(r.c.device_id, func.count())
        .select_from(r.join(_D, _D.c.device_id == r.c.device_id))
        .where(and_(_D.c.seal_first_seq.is_not(None), r.c.seq < _D.c.seal_first_seq))
        .group_by(r.c.device_id)
    )
    if device_id is not None:
        query = query.where(r.c.device_id == device_id)
    return {row[0]: row[1] for row in conn.execute(query)}
