"""The findings still open on each device, read for the devices page: a
few per device and how many in all, in one query however many devices
there are.

(The other findings queries, written at ingest or read one device at a
time, are in :mod:`server.store.devices` and :mod:`server.store.batches`.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from server.store import tables

__all__ = ["open_findings", "device_open_findings"]


def open_findings(conn: Connection, per_device: int, *, leave_out: str | None = None) -> dict[str, dict[str, Any]]:
    """Each device's unresolved findings: ``{"first": [...], "count": n}``,
    ``first`` holding at most ``per_device`` of them in the order they were
    found (each with ``seq``, ``problem``, ``detail``, ``found_at``), ``count``
    how many are open. Devices with none are left out, as is ``leave_out``."""
    findings = tables.findings
    open_only = findings.c.resolved_at.is_(None)
    if leave_out is not None:
        open_only = open_only & (findings.c.device_id != leave_out)
    ranked = (
        select(
            findings.c.device_id, findings.c.seq, findings.c.problem, findings.c.detail, findings.c.found_at,
            # Window functions (SQLite 3.25+, PostgreSQL): the first few of
            # every device and its total, without a query per device.
            func.row_number().over(partition_by=findings.c.device_id, order_by=findings.c.id).label("place"),
            func.count().over(partition_by=findings.c.device_id).label("open_count"),
        )
        .where(open_only)
        .subquery()
    )
    rows = conn.execute(
        select(ranked).where(ranked.c.place <= per_device).order_by(ranked.c.device_id, ranked.c.place)
    ).mappings()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        device = out.setdefault(row["device_id"], {"first": [], "count": row["open_count"]})
        device["first"].append({k: row[k] for k in ("seq", "problem", "detail", "found_at")})
    return out


def device_open_findings(conn: Connection, device_id: str, *, offset: int,
                         limit: int) -> tuple[list[dict[str, Any]], int]:
    """One page of a device's unresolved findings, in the order they were
    found (each with ``seq``, ``problem``, ``detail``, ``found_at``), and how
    many are open in all."""
    findings = tables.findings
    open_here = (findings.c.device_id == device_id) & findings.c.resolved_at.is_(None)
    total = conn.execute(select(func.count()).select_from(findings).where(open_here)).scalar_one()
    rows = conn.execute(
        select(findings.c.seq, findings.c.problem, findings.c.detail, findings.c.found_at)
        .where(open_here).order_by(findings.c.id).offset(offset).limit(limit)
    ).mappings()
    return [dict(row) for row in rows], int(total)
