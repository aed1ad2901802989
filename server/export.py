"""Exporting the stored ratings: every rating with its flags, the findings
noted at its place in the chain, and both times (as the device said, and
corrected on the server's clock). The queries are
:mod:`server.store.export`'s."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Engine

from server.store import export as stored_export

__all__ = ["EXPORT_COLUMNS", "export_rows", "write_csv"]

EXPORT_COLUMNS = (
    "device_id", "seq", "uuid", "officer_id", "counter_id", "score", "scale", "level",
    "device_time", "corrected_time", "time_method", "clock_offset_s", "received_at",
    "flags", "findings", "reasons", "callback_requested",
)


def export_rows(engine: Engine) -> Iterator[dict[str, object]]:
    """Every stored rating, in device and sequence order, ready for a spreadsheet."""
    with engine.begin() as conn:
        findings = stored_export.findings_by_place(conn)
        details = stored_export.details_by_rating(conn)
        rows = stored_export.rating_rows(conn)
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
