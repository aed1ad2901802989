"""The queries of the ratings export: every stored rating, the findings by
their place in a chain, and the details records attached to ratings."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from server.store import tables
from sync.record import KIND_DETAILS, KIND_RATING

__all__ = ["findings_by_place", "details_by_rating", "rating_rows"]


def findings_by_place(conn: Connection) -> dict[tuple[str, int], list[str]]:
    """Each finding as a line of text, by (device id, sequence number), oldest first."""
    found: dict[tuple[str, int], list[str]] = defaultdict(list)
    findings = tables.findings
    for row in conn.execute(select(findings.c.device_id, findings.c.seq, findings.c.problem, findings.c.detail,
                                   findings.c.resolved_at).order_by(findings.c.id)):
        resolved = f" (resolved {row[4]})" if row[4] else ""
        found[(row[0], row[1])].append(f"{row[2]}: {row[3]}{resolved}")
    return found


def details_by_rating(conn: Connection) -> dict[str, dict[str, object]]:
    """The reasons and call-back request added to each rating, by the rating's UUID."""
    records = tables.records
    details: dict[str, dict[str, object]] = {}
    for row in conn.execute(select(records.c.rating_uuid, records.c.reasons, records.c.callback_requested)
                            .where(records.c.kind == KIND_DETAILS).order_by(records.c.id)):
        details[row[0]] = {"reasons": " ".join(json.loads(row[1] or "[]")), "callback_requested": bool(row[2])}
    return details


def rating_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every stored rating's row, in device and sequence order."""
    records = tables.records
    rows = conn.execute(select(records).where(records.c.kind == KIND_RATING)
                        .order_by(records.c.device_id, records.c.seq)).mappings().all()
    return [dict(r) for r in rows]
