"""Exporting the stored ratings: every rating with its flags, the findings
noted at its place in the chain, and both times (as the device said, and
corrected on the server's clock)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from typing import IO, Iterator

from sqlalchemy import Engine, select

from server import db
from sync.record import KIND_DETAILS, KIND_RATING

__all__ = ["EXPORT_COLUMNS", "export_rows", "write_csv"]

EXPORT_COLUMNS = (
    "device_id", "seq", "uuid", "officer_id", "counter_id", "score", "scale", "level",
    "device_time", "corrected_time", "time_method", "clock_offset_s", "received_at",
    "flags", "findings", "reasons", "callback_requested",
)


def export_rows(engine: Engine) -> Iterator[dict[str, object]]:
    """Every stored rating, in device and sequence order, ready for a spreadsheet."""
    with engine.begin() as conn:
        findings: dict[tuple[str, int], list[str]] = defaultdict(list)
        for row in conn.execute(select(db.findings.c.device_id, db.findings.c.seq, db.findings.c.problem,
                                       db.findings.c.detail, db.findings.c.resolved_at).order_by(db.findings.c.id)):
            resolved = f" (resolved {row[4]})" if row[4] else ""
            findings[(row[0], row[1])].append(f"{row[2]}: {row[3]}{resolved}")
        details: dict[str, dict[str, object]] = {}
        for row in conn.execute(select(db.records.c.rating_uuid, db.records.c.reasons, db.records.c.callback_requested)
                                .where(db.records.c.kind == KIND_DETAILS).order_by(db.records.c.id)):
            details[row[0]] = {"reasons": " ".join(json.loads(row[1] or "[]")), "callback_requested": bool(row[2])}
        rows = conn.execute(select(db.records).where(db.records.c.kind == KIND_RATING)
                            .order_by(db.records.c.device_id, db.records.c.seq)).mappings().all()
    for row in rows:
        extra = details.get(row["uuid"], {})
        yield {
            **{name: row[name] for name in EXPORT_COLUMNS[:13]},
            "flags": row["flags"],
            "findings": " | ".join(findings.get((row["device_id"], row["seq"]), [])),
            "reasons": extra.get("reasons", ""),
            "callback_requested": "yes" if extra.get("callback_requested") else "no",
        }


def write_csv(engine: Engine, out: IO[str]) -> int:
    """Write the export as CSV (UTF-8, header row); returns how many ratings."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    count = 0
    for row in export_rows(engine):
        writer.writerow(row)
        count += 1
    return count
