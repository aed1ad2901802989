"""Exporting the stored ratings of a range of local days, as CSV (UTF-8 with
a BOM, so Excel reads the Vietnamese names) or XLSX (numbers as numbers,
times as times).

Each row is one rating: its local time in the commune's time zone, the
officer's and counter's names from the roster beside their ids, the level,
the flags, the findings noted at its place in the chain, the reasons given
and whether a call-back was asked for (yes/no). No export carries a
citizen's phone number.

Ratings are read a page at a time (:func:`server.store.export.rating_page`),
in the order they were stored (per tablet, the order they were made), each
page in its own short transaction, and written as they come: the memory an
export takes does not grow with its size, and the database is never held for
the whole export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import Engine

from server.clock import utc_text
from server.scores import SATISFIED_LEVELS
from server.settings import load_settings
from server.store import export as stored_export
from server.store import ratings as stored_ratings

__all__ = ["EXPORT_COLUMNS", "NUMBER_COLUMNS", "ExportRange", "export_rows", "csv_chunks", "write_csv",
           "write_xlsx"]

EXPORT_COLUMNS = (
    "local_time", "officer_id", "officer_name", "counter_id", "counter_name", "level", "satisfied", "score",
    "scale", "flags", "reasons", "callback_requested", "findings",
    "device_id", "seq", "uuid", "device_time", "corrected_time", "time_method", "clock_offset_s", "received_at",
)
"""The export's columns (the header row), in order."""

NUMBER_COLUMNS = frozenset({"score", "scale", "seq", "clock_offset_s"})
"""Columns written as numbers in a spreadsheet."""

PAGE_SIZE = 5_000


@dataclass(frozen=True)
class ExportRange:
    """Local days ``first`` to ``last``, both included; an open end reaches the first or last rating."""

    first: date | None = None
    last: date | None = None

    def utc_bounds(self, zone: ZoneInfo) -> tuple[str, str]:
        """The range as ``[start, end)`` in the stored UTC text."""
        start = (datetime.combine(self.first, datetime.min.time(), tzinfo=zone) if self.first
                 else datetime(1, 1, 2, tzinfo=UTC))
        end = (datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=zone) if self.last
               else datetime(9999, 12, 30, tzinfo=UTC))
        return utc_text(start), utc_text(end)


def _ratings(engine: Engine, chosen: ExportRange, zone: ZoneInfo) -> Iterator[tuple[Any, list[str], bool]]:
    """Every rating of the range with its reasons and call-back request, a page at a time."""
    start, end = chosen.utc_bounds(zone)
    with engine.begin() as conn:
        span = stored_export.id_span(conn, start, end)
    if span is None:
        return
    after, last = span[0] - 1, span[1]
    width = len(stored_export.RATING_COLUMNS)
    while after < last:
        with engine.begin() as conn:
            rows = stored_export.rating_page(conn, start, end, after, last, PAGE_SIZE)
        if not rows:
            return
        current, reasons, callback = None, [], False
        for row in rows:
            if current is not None and row[0] != current[0]:
                yield current, reasons, callback
                reasons, callback = [], False
            current = row[:width]
            for reason in json.loads(row[width]) if row[width] else ():
                if isinstance(reason, str) and reason not in reasons:
                    reasons.append(reason)
            callback = callback or bool(row[width + 1])
        yield current, reasons, callback
        after = current[0]


def export_rows(engine: Engine, chosen: ExportRange = ExportRange(), *,
                local_times_as_text: bool = True) -> Iterator[list[Any]]:
    """The export's rows in :data:`EXPORT_COLUMNS` order, oldest first; the
    local time as ``YYYY-MM-DD HH:MM:SS`` text, or as a (naive, local)
    ``datetime`` for a spreadsheet."""
    settings = load_settings(engine)
    zone = settings.zone
    with engine.begin() as conn:
        officers = stored_ratings.officer_names(conn)
        counters = stored_ratings.counter_names(conn)
        # Findings are few (one per tampering or gap), unlike ratings.
        findings = stored_export.findings_by_place(conn)
    for row, reasons, callback in _ratings(engine, chosen, zone):
        (_id, device_id, seq, uuid, officer_id, counter_id, score, scale, level, device_time,
         corrected_time, time_method, clock_offset_s, received_at, flags) = row
        local = datetime.fromisoformat(corrected_time).astimezone(zone).replace(tzinfo=None)
        yield [
            local.isoformat(" ", "seconds") if local_times_as_text else local.replace(microsecond=0),
            officer_id, officers.get(officer_id, ""), counter_id, counters.get(counter_id, ""),
            level, "yes" if level in SATISFIED_LEVELS else "no", score, scale, flags,
            " ".join(reasons), "yes" if callback else "no",
            " | ".join(findings.get((device_id, seq), ())),
            device_id, seq, uuid, device_time, corrected_time, time_method, clock_offset_s, received_at,
        ]


def csv_chunks(engine: Engine, chosen: ExportRange = ExportRange(), *,
               header: Sequence[str] = EXPORT_COLUMNS) -> Iterator[bytes]:
    """The CSV export as UTF-8 bytes with a BOM, in pieces of a few hundred
    kilobytes (for a streamed HTTP answer). ``header`` may word the columns
    in the reader's language."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(export_rows(engine, chosen), start=1):
        writer.writerow(row)
        if count % 2_000 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_csv(engine: Engine, out: IO[bytes], chosen: ExportRange = ExportRange(), *,
              header: Sequence[str] = EXPORT_COLUMNS) -> int:
    """Write the CSV export (UTF-8 with a BOM) to a binary stream; returns how many ratings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    out.write(b"\xef\xbb\xbf")
    count = 0
    for count, row in enumerate(export_rows(engine, chosen), start=1):
        writer.writerow(row)
        # Encoded and written a few thousand rows at a time: far cheaper than row by row.
        if count % 2_000 == 0:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))
    return count


def write_xlsx(engine: Engine, out: str | Path | IO[bytes], chosen: ExportRange = ExportRange(), *,
               header: Sequence[str] = EXPORT_COLUMNS, title: str = "ratings") -> int:
    """Write the XLSX export (one sheet, openpyxl's write-only mode: rows go
    to disk as they come); returns how many ratings."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(list(header))
    count = 0
    for row in export_rows(engine, chosen, local_times_as_text=False):
        sheet.append(row)
        count += 1
    book.save(out)
    return count
