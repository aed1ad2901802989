"""The queries of pairing requests and paired devices: what the device
registry (:mod:`server.registry`) reads and writes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from server.store import tables
from sync.record import GENESIS_HASH

__all__ = [
    "user_code_taken",
    "add_pairing",
    "pairing_by_user_code",
    "pairing_by_device_code",
    "waiting_pairings",
    "update_pairing",
    "mark_delivered",
    "delete_expired_pairings",
    "active_device_ids",
    "activate_device",
    "device_secret",
    "credentials",
    "revoke_device",
    "device_rows",
    "findings_counts",
    "device_findings",
]


# -- pairing requests ----------------------------------------------------------


def user_code_taken(conn: Connection, user_code: str) -> bool:
    """Whether a pairing request already has this user code."""
    found = conn.execute(select(tables.pairings.c.id).where(tables.pairings.c.user_code == user_code)).first()
    return found is not None


def add_pairing(conn: Connection, **values: Any) -> None:
    """Store a new pairing request (the columns of ``pairings`` as keywords)."""
    conn.execute(insert(tables.pairings).values(**values))


def pairing_by_user_code(conn: Connection, user_code: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The pairing request with that (normalised) user code, if any."""
    query = select(tables.pairings).where(tables.pairings.c.user_code == user_code)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def pairing_by_device_code(conn: Connection, device_code_digest: str) -> dict[str, Any] | None:
    """The pairing request polled with a device code (by its digest), locked for the poll's update."""
    row = conn.execute(
        select(tables.pairings)
        .where(tables.pairings.c.device_code_digest == device_code_digest)
        .with_for_update()
    ).mappings().first()
    return dict(row) if row else None


def waiting_pairings(conn: Connection, now_text: str) -> list[dict[str, Any]]:
    """Pairing requests still pending and not expired at ``now_text``, oldest first."""
    rows = conn.execute(
        select(tables.pairings)
        .where(tables.pairings.c.status == "pending", tables.pairings.c.expires_at > now_text)
        .order_by(tables.pairings.c.id)
    ).mappings().all()
    return [dict(r) for r in rows]


def update_pairing(conn: Connection, pairing_id: int, **values: Any) -> None:
    """Change a pairing request's columns."""
    conn.execute(update(tables.pairings).where(tables.pairings.c.id == pairing_id).values(**values))


def mark_delivered(conn: Connection, pairing_id: int) -> bool:
    """Mark an approved request's secret as handed over; False when it was not
    ``approved`` any more (another poll took it first): the secret goes out once."""
    done = conn.execute(
        update(tables.pairings)
        .where(tables.pairings.c.id == pairing_id, tables.pairings.c.status == "approved")
        .values(status="delivered")
    )
    return done.rowcount == 1


def delete_expired_pairings(conn: Connection, now_text: str) -> int:
    """Delete every pairing request past its expiry (waiting, decided or
    delivered alike); returns how many went."""
    return conn.execute(delete(tables.pairings).where(tables.pairings.c.expires_at <= now_text)).rowcount


def active_device_ids(conn: Connection, device_ids: Collection[str]) -> set[str]:
    """Which of these devices are paired and active."""
    if not device_ids:
        return set()
    rows = conn.execute(
        select(tables.devices.c.device_id)
        .where(tables.devices.c.device_id.in_(list(device_ids)), tables.devices.c.status == "active")
    )
    return {r[0] for r in rows}


# -- devices -------------------------------------------------------------------


def activate_device(conn: Connection, device_id: str, **values: Any) -> None:
    """Make the device active with the given values (secret, label, …): a
    device paired before is updated, its chain continuing; a new one starts
    at the chain's beginning."""
    existing = conn.execute(
        select(tables.devices.c.device_id).where(tables.devices.c.device_id == device_id)
    ).first()
    if existing:
        conn.execute(update(tables.devices).where(tables.devices.c.device_id == device_id).values(**values))
    else:
        conn.execute(insert(tables.devices).values(
            device_id=device_id, head_seq=0, head_hash=GENESIS_HASH, records_count=0, clock_off=False, **values,
        ))


def device_secret(conn: Connection, device_id: str) -> str | None:
    """The device's secret, if it is known."""
    row = conn.execute(select(tables.devices.c.secret).where(tables.devices.c.device_id == device_id)).first()
    return row[0] if row else None


def credentials(conn: Connection, device_id: str) -> tuple[str, str] | None:
    """The device's secret and status, if it is known."""
    row = conn.execute(
        select(tables.devices.c.secret, tables.devices.c.status).where(tables.devices.c.device_id == device_id)
    ).first()
    return (row[0], row[1]) if row else None


def revoke_device(conn: Connection, device_id: str, *, at: str, reason: str | None) -> bool:
    """Mark the device revoked; False when there is no such device."""
    done = conn.execute(
        update(tables.devices)
        .where(tables.devices.c.device_id == device_id)
        .values(status="revoked", revoked_at=at, revoked_reason=reason)
    )
    return done.rowcount > 0


def device_rows(conn: Connection, device_id: str | None = None) -> list[dict[str, Any]]:
    """Every device (or the one named), by device id."""
    query = select(tables.devices).order_by(tables.devices.c.device_id)
    if device_id is not None:
        query = query.where(tables.devices.c.device_id == device_id)
    return [dict(r) for r in conn.execute(query).mappings().all()]


def findings_counts(conn: Connection, problems: Collection[str] | None = None) -> dict[str, int]:
    """How many findings each device has: all of them, or only the
    unresolved ones among ``problems``."""
    query = select(tables.findings.c.device_id, func.count())
    if problems is not None:
        query = query.where(tables.findings.c.problem.in_(problems), tables.findings.c.resolved_at.is_(None))
    return dict(conn.execute(query.group_by(tables.findings.c.device_id)).all())


def device_findings(conn: Connection, device_id: str, *, limit: int) -> list[dict[str, Any]]:
    """A device's first ``limit`` findings, oldest first."""
    rows = conn.execute(
        select(tables.findings)
        .where(tables.findings.c.device_id == device_id)
        .order_by(tables.findings.c.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
