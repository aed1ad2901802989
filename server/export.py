"""Exporting the stored ratings of a range of local days, as CSV (UTF-8 with
a BOM, so Excel reads the Vietnamese names) or XLSX (numbers as numbers,
times as times).

Each row is one rating: its local time in the commune's time zone, the
officer's and counter's names from the roster beside their ids, the level,
the flags, the findings noted at its place in the chain, the reasons given
and whether a call-back was asked for (yes/no). No export carries a
citizen's phone number.

Ratings are read a window of row ids at a time
(:func:`server.store.export.rating_window`), in the order they were stored
(per tablet, the order they were made), each window in its own short
transaction, and written as they come: the memory an
export takes does not grow with its size, and the database is never held for
the whole export.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
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
from server.store import read_transaction

__all__ = ["EXPORT_COLUMNS", "NUMBER_COLUMNS", "ExportRange", "export_rows", "csv_chunks", "write_csv",
           "write_xlsx"]

EXPORT_COLUMNS = (
    "local_time", "officer_id", "officer_name", "counter_id", "counter_name", "level", "satisfied", "score",
    "scale", "flags", "reasons", "callback_requested", "findings",
    "device_id", "seq", "uuid", "device_time", "corrected_time", "time_method", "clock_offset_s", "received_at",
    "dossier_code", "tapped_level",
)
"""The export's columns (the header row), in order. ``level``, ``satisfied``
and ``score`` are the ones that stand: a rating the citizen corrected within
the tablet's window has its first tap in ``tapped_level`` (empty otherwise)."""

NUMBER_COLUMNS = frozenset({"score", "scale", "seq", "clock_offset_s"})
"""Columns written as numbers in a spreadsheet."""

WINDOW = 10_000
"""Row ids read per statement: a window holds at most this many ratings."""

_CSV_LINE = "\r\n"  # the csv module's own line end, which the export always had
_CSV_COMMAS = len(EXPORT_COLUMNS) - 1


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


class _LocalTimes:
    """Stored UTC times as the commune's local times, worked out once per
    hour: converting each rating's time through the time zone was a large
    share of the export's time.

    Only for the stored form (``…T17:00:05.123+00:00``) and an hour whose
    local offset is whole hours and the same at both its ends (every hour of
    Asia/Ho_Chi_Minh since 1975) are the minutes and seconds simply carried
    over; anything else is converted in full."""

    _KEEP = 4_096

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        # By the stored text's hour: the local hour (None: convert in full) and its text.
        self._hours: dict[str, tuple[datetime, str] | None] = {}
        self.hour_texts: dict[str, str] = {}
        """The local hour's text (``YYYY-MM-DD HH``) by the stored time's hour,
        for the hours whose minutes and seconds carry over (filled by :meth:`text`)."""

    def _hour(self, stored: str) -> tuple[datetime, str] | None:
        key = stored[:13]
        try:
            return self._hours[key]
        except KeyError:
            pass
        found: tuple[datetime, str] | None = None
        if (len(stored) == 29 and stored[13] == ":" and stored[16] == ":" and stored.endswith("+00:00")
                and stored[14:16].isdigit() and stored[17:19].isdigit()):
            start = datetime.fromisoformat(key + ":00:00+00:00")
            local = start.astimezone(self.zone)
            end = (start + timedelta(seconds=3599)).astimezone(self.zone)
            if not local.minute and not local.second and local.utcoffset() == end.utcoffset():
                local = local.replace(tzinfo=None)
                found = local, local.isoformat(" ", "hours")
        if len(self._hours) >= self._KEEP:
            # Ratings come in the order they were stored, so hours seldom return: memory stays flat.
            self._hours.clear()
            self.hour_texts.clear()
        self._hours[key] = found
        if found is not None:
            self.hour_texts[key] = found[1]
        return found

    def moment(self, stored: str) -> datetime:
        """The local time, to the second, as a naive ``datetime``."""
        hour = self._hour(stored)
        if hour is None:
            return datetime.fromisoformat(stored).astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        return hour[0].replace(minute=int(stored[14:16]), second=int(stored[17:19]))

    def text(self, stored: str) -> str:
        """The local time as ``YYYY-MM-DD HH:MM:SS``."""
        hour = self._hours.get(stored[:13]) or self._hour(stored)
        if hour is None:
            return datetime.fromisoformat(stored).astimezone(self.zone).replace(tzinfo=None).isoformat(
                " ", "seconds")
        return hour[1] + stored[13:19]


class _MayHaveDetails:
    """The ratings that may have details records: a Bloom filter over the
    details' rating UUIDs. It never misses a rating that has details; about
    one rating in a hundred without any is let through too, and the lookup
    that follows finds nothing for it. Its size is fixed by the number of
    details (2 bytes each, at most 16 MB), whatever the export's range.

    Looking up every rating's details cost the database as much as reading
    the ratings themselves, for the one rating in seven that has any."""

    def __init__(self, uuids: Iterator[str], count: int):
        size = 1 << max(16, min(27, (16 * count).bit_length()))
        self._mask = size - 1
        self._bits = bytearray(size >> 3)
        for uuid in uuids:
            key = hash(uuid)
            for bit in (key & self._mask, (key >> 32) & self._mask):
                self._bits[bit >> 3] |= 1 << (bit & 7)

    def among(self, uuids: Iterable[str]) -> list[str]:
        """Those of ``uuids`` that may have details (all that do, and a few more)."""
        bits, mask = self._bits, self._mask
        kept = []
        for uuid in uuids:
            key = hash(uuid)
            low, high = key & mask, (key >> 32) & mask
            if bits[low >> 3] >> (low & 7) & 1 and bits[high >> 3] >> (high & 7) & 1:
                kept.append(uuid)
        return kept


def _ratings(engine: Engine, chosen: ExportRange, zone: ZoneInfo, *, as_text: bool = False,
             ids: tuple[int, int] | None = None) -> Iterator[tuple[Any, list[str], bool]]:
    """Every rating of the range (and, given ``ids``, with a row id in that
    closed interval) with its reasons and call-back request, a window of row
    ids at a time. Details added after the export began are not looked for."""
    start, end = chosen.utc_bounds(zone)
    with read_transaction(engine) as conn:
        span = stored_export.id_span(conn, start, end)
        if span is not None and ids is not None:
            span = (max(span[0], ids[0]), min(span[1], ids[1]))
        if span is None or span[0] > span[1]:
            return
        may_have = _MayHaveDetails(stored_export.details_rating_uuids(conn), stored_export.details_count(conn))
    after, last = span[0] - 1, span[1]
    parsed: dict[str, list[str]] = {}

    def reasons_of(found: list[Any]) -> tuple[list[str], bool]:
        reasons: list[str] = []
        callback = False
        # In the order the details were stored, as the export always listed them.
        for _uuid, _id, text, requested, _device in sorted(found, key=lambda row: row[1]):
            if text:
                given = parsed.get(text)
                if given is None:
                    given = [r for r in json.loads(text) if isinstance(r, str)]
                    if len(parsed) < 10_000:  # the same few lists come back again and again
                        parsed[text] = given
                for reason in given:
                    if reason not in reasons:
                        reasons.append(reason)
            callback = callback or bool(requested)
        return reasons, callback

    def window(after: int, upto: int) -> tuple[Sequence[Any], dict[tuple[str, str], list[Any]]]:
        with read_transaction(engine) as conn:
            rows = stored_export.rating_window(conn, start, end, after, upto, as_text=as_text)
            # By device and rating UUID: a UUID is unique per device only.
            details: dict[tuple[str, str], list[Any]] = {}
            for found in stored_export.details_of(conn, may_have.among(row[3] for row in rows)):
                details.setdefault((found[4], found[0]), []).append(found)
        return rows, details

    while after < last:
        upto = min(after + WINDOW, last)
        rows, details = window(after, upto)
        after = upto
        for row in rows:
            found = details.get((row[1], row[3]))
            yield (row, *reasons_of(found)) if found else (row, [], False)


def _rows(engine: Engine, chosen: ExportRange, *, as_text: bool,
          ids: tuple[int, int] | None = None) -> Iterator[list[Any]]:
    """The export's rows; ``as_text``: every value as the CSV writes it
    (numbers as text, a missing number as nothing), else numbers as numbers
    and the local time as a ``datetime``."""
    settings = load_settings(engine)
    zone = settings.zone
    times = _LocalTimes(zone)
    with read_transaction(engine) as conn:
        officers = stored_ratings.officer_names(conn)
        counters = stored_ratings.counter_names(conn)
        # Findings are few (one per tampering or gap), unlike ratings.
        findings = stored_export.findings_by_place(conn)
        received = stored_export.receipt_times(conn)
    # The local hour's text by the stored time's hour: looked up here rather
    # than through a call per rating (a million of them in a year's export).
    hour_text = times.hour_texts
    for row, reasons, callback in _ratings(engine, chosen, zone, as_text=as_text, ids=ids):
        (_id, device_id, seq, uuid, officer_id, counter_id, score, scale, level, device_time,
         corrected_time, time_method, clock_offset_s, receipt_id, flags, dossier_code, corrected_score,
         corrected_level) = row
        tapped_level = ""
        if corrected_level is not None:
            tapped_level, level = level, corrected_level
            score = corrected_score if not as_text or corrected_score is None else str(corrected_score)
        received_at = received.get(receipt_id, "")
        found = findings.get((device_id, int(seq))) if findings else None
        if as_text:
            hour = hour_text.get(corrected_time[:13])
            local: Any = hour + corrected_time[13:19] if hour is not None else times.text(corrected_time)
            clock_offset_s = "" if clock_offset_s is None else str(clock_offset_s)
        else:
            local = times.moment(corrected_time)
        yield [
            local, officer_id, officers.get(officer_id, ""), counter_id, counters.get(counter_id, ""),
            level, "yes" if level in SATISFIED_LEVELS else "no", score, scale, flags,
            " ".join(reasons), "yes" if callback else "no", " | ".join(found) if found else "",
            device_id, seq, uuid, device_time, corrected_time, time_method, clock_offset_s, received_at,
            dossier_code or "", tapped_level,
        ]


def export_rows(engine: Engine, chosen: ExportRange = ExportRange(), *,
                local_times_as_text: bool = True) -> Iterator[list[Any]]:
    """The export's rows in :data:`EXPORT_COLUMNS` order, oldest first; the
    local time as ``YYYY-MM-DD HH:MM:SS`` text, or as a (naive, local)
    ``datetime`` for a spreadsheet."""
    for row in _rows(engine, chosen, as_text=False):
        if local_times_as_text:
            row[0] = row[0].isoformat(" ", "seconds")
        yield row


def _csv_pieces(engine: Engine, chosen: ExportRange, header: Sequence[str]) -> Iterator[tuple[bytes, int]]:
    """The CSV export as UTF-8 pieces with a BOM first, each with how many ratings it holds.

    Rows whose fields hold no comma, quote or line break are joined by hand,
    exactly as the csv module would write them (it quotes only such fields)
    and several times faster (:func:`_csv_text`)."""
    yield _csv_head(header), 0
    yield from _csv_body(engine, chosen)


def _csv_head(header: Sequence[str]) -> bytes:
    """The CSV's first bytes: the BOM (for Excel) and the header line."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def _csv_body(engine: Engine, chosen: ExportRange, ids: tuple[int, int] | None = None) -> Iterator[tuple[bytes, int]]:
    """The CSV's rating lines (of the row ids ``ids`` when given) as UTF-8
    pieces, each with how many ratings it holds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows: list[list[Any]] = []
    for row in _rows(engine, chosen, as_text=True, ids=ids):
        rows.append(row)
        # Encoded a few thousand rows at a time: far cheaper than row by row.
        if len(rows) == 2_000:
            yield _csv_text(rows, writer, buffer).encode("utf-8"), len(rows)
            rows = []
    if rows:
        yield _csv_text(rows, writer, buffer).encode("utf-8"), len(rows)


def _csv_text(rows: list[list[Any]], writer: Any, buffer: io.StringIO) -> str:
    """Rows as CSV lines, joined by hand and checked all at once: when any
    field holds what the csv module would quote (a comma, a quote, a line
    break) or a value is missing, the rows go through the csv module instead."""
    try:
        text = _CSV_LINE.join([",".join(row) for row in rows]) + _CSV_LINE
    except TypeError:  # a missing value (None), which the csv module writes as nothing
        text = ""
    count = len(rows)
    if (text and text.count(",") == _CSV_COMMAS * count and text.count("\n") == count
            and text.count("\r") == count and '"' not in text):
        return text
    buffer.seek(0)
    buffer.truncate()
    writer.writerows(rows)
    return buffer.getvalue()


def csv_chunks(engine: Engine, chosen: ExportRange = ExportRange(), *,
               header: Sequence[str] = EXPORT_COLUMNS) -> Iterator[bytes]:
    """The CSV export as UTF-8 bytes with a BOM, in pieces of a few hundred
    kilobytes (for a streamed HTTP answer). ``header`` may word the columns
    in the reader's language."""
    for piece, _count in _csv_pieces(engine, chosen, header):
        yield piece


SPLIT_FROM = 200_000
"""The span of row ids from which :func:`write_csv` divides the work (below it,
starting processes costs more than it saves)."""

def write_csv(engine: Engine, out: IO[bytes], chosen: ExportRange = ExportRange(), *,
              header: Sequence[str] = EXPORT_COLUMNS, workers: int = 1, split_from: int = SPLIT_FROM) -> int:
    """Write the CSV export (UTF-8 with a BOM) to a binary stream; returns how many ratings.

    With ``workers`` above 1 (the command line gives the machine's cores),
    a range of more than ``split_from`` ratings on a SQLite file is cut into
    that many stretches of row ids, each written by a process of its own
    (forked: nothing is imported or opened again) to a file the parent then
    copies out in order. The lines are the very ones a single process
    writes; only the time is divided. The server's pages never split (no
    process forks beside a running server's threads)."""
    if workers > 1 and _splittable(engine):
        with read_transaction(engine) as conn:
            start, end = chosen.utc_bounds(load_settings(engine).zone)
            span = stored_export.id_span(conn, start, end)
        if span is not None and span[1] - span[0] >= split_from:
            return _write_csv_split(engine, out, chosen, header, workers, span)
    count = 0
    for piece, rows in _csv_pieces(engine, chosen, header):
        out.write(piece)
        count += rows
    return count


# What the forked writers inherit: the engine and the range (set just before forking).
_SPLIT_STATE: dict[str, Any] = {}


def _splittable(engine: Engine) -> bool:
    """Whether processes may share this database by forking: a SQLite file,
    on a system that forks."""
    return (engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
            and "fork" in multiprocessing.get_all_start_methods())


def _write_csv_split(engine: Engine, out: IO[bytes], chosen: ExportRange, header: Sequence[str], workers: int,
                     span: tuple[int, int]) -> int:
    """:func:`write_csv`'s work, one stretch of row ids per forked process."""
    width = (span[1] - span[0]) // workers + 1
    stretches = [(low, min(low + width - 1, span[1])) for low in range(span[0], span[1] + 1, width)]
    engine.dispose()  # no open connection crosses the fork
    _SPLIT_STATE.update(engine=engine, chosen=chosen)
    try:
        with tempfile.TemporaryDirectory(prefix="hai-long-export-") as folder, ProcessPoolExecutor(
                len(stretches), mp_context=multiprocessing.get_context("fork")) as pool:
            parts = [Path(folder) / f"{n}.csv" for n in range(len(stretches))]
            counted = [pool.submit(_write_stretch, stretch, str(part)) for stretch, part in zip(stretches, parts)]
            out.write(_csv_head(header))
            count = 0
            for done, part in zip(counted, parts):
                count += done.result()
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
                part.unlink()
            return count
    finally:
        _SPLIT_STATE.clear()


def _write_stretch(ids: tuple[int, int], path: str) -> int:
    """In a forked process: write the lines of the ratings with row ids in
    ``ids`` to ``path``; how many."""
    engine: Engine = _SPLIT_STATE["engine"]
    engine.dispose(close=False)  # the parent's pool is the parent's
    count = 0
    with open(path, "wb") as part:
        for piece, rows in _csv_body(engine, _SPLIT_STATE["chosen"], ids):
            part.write(piece)
            count += rows
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
