"""Export every rating on the tablet to CSV and Excel, e.g. on a USB stick.

One row per rating, with what the citizen added afterwards (reasons, whether
a call-back was asked for: yes or no, never the number) merged into it, and the fields that let the commune check
the file against the tablet later: sequence number, UUID and hash.

* The export reads one snapshot of the database (one read transaction, see
  :class:`kiosk.store.export_rows.RatingsSnapshot`), so the number of rows in
  each file is exactly the number of ratings the tablet held at that moment,
  even while citizens keep rating. Rows are streamed, never all in memory.
* Each file is written under a ``.partial`` name, synced, and only then
  renamed to its real name: a stick pulled out half-way leaves no file that
  looks complete.
* It opens its own :class:`~kiosk.store.Store` on the database path, so it
  can run on a worker thread while the kiosk goes on with its own connection.

The CSV is UTF-8 with a byte-order mark, which is what makes Excel on
Windows show Vietnamese letters instead of mojibake. Nothing here imports Kivy.
"""

from __future__ import annotations

import csv
import errno
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.files import sync_folder
from kiosk.i18n import LANGUAGES, catalogue
from kiosk.store import Store, StoreError, local_now
from kiosk.store.export_rows import RatingsSnapshot

__all__ = ["COLUMNS", "ExportError", "ExportResult", "FORMATS", "PROGRESS_EVERY", "export_ratings"]

FORMATS = ("csv", "xlsx")
PROGRESS_EVERY = 500
"""Rows between two progress calls: often enough for a moving bar, rarely
enough not to slow the export down with UI updates."""

COLUMNS = (
    "seq",
    "uuid",
    "device_time",
    "officer_id",
    "counter_id",
    "level",
    "level_label",
    "score",
    "scale",
    "tapped_level_label",
    "reasons",
    "callback_requested",
    "burst",
    "simulated",
    "device_id",
    "hash",
)
"""The columns, in order. Headers come from the catalogue (``export.col_*``)."""

_REASON_SEPARATOR = "; "


class ExportError(Exception):
    """The export could not be made. ``problem`` is a catalogue key under
    ``export.``; ``message(language)`` says it to a person."""

    def __init__(self, problem: str, /, **values: Any):
        self.problem = problem
        self.values = {k: str(v) for k, v in values.items()}
        super().__init__(f"{self.message('vi')} ({self.message('en')})")

    def message(self, language: str) -> str:
        return catalogue(language).get(f"export.{self.problem}", **self.values)


@dataclass(frozen=True)
class ExportResult:
    """The files written (one per format) and the number of rating rows in each."""

    paths: list[Path] = field(default_factory=list)
    rows: int = 0


def export_ratings(
    db_path: Path,
    folder: Path,
    *,
    formats: Sequence[str] = FORMATS,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
    counter: str | None = None,
    language: str = "vi",
) -> ExportResult:
    """Write all ratings of the database at ``db_path`` into ``folder``.

    Files are named ``hailong-<counter>-<YYYYmmdd-HHMM>.csv`` / ``.xlsx``
    (``-2``, ``-3``... when that name is taken). ``counter`` defaults to the
    counter of the latest rating. ``progress(done, total)`` is called with
    0 at the start, every :data:`PROGRESS_EVERY` rows, and once with
    ``done == total`` when the files are in place. Headers and level names are
    in ``language``.

    Raises :class:`ExportError` when the folder is missing or not writable,
    the drive is full, or the database is absent; no file that looks complete
    is left behind then.
    """
    db_path, folder = Path(db_path), Path(folder)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be taken from {FORMATS}, got {tuple(formats)!r}")
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    if not db_path.is_file():
        # Opening a Store would create an empty database: not what an export means.
        raise ExportError("no_database", file=db_path)
    if not folder.is_dir():
        raise ExportError("no_folder", folder=folder)

    text = catalogue(language)
    headers = [text.get(f"export.col_{name}") for name in COLUMNS]
    level_labels = {key: text.get(f"level.{key}") for key in _LEVEL_KEYS}
    try:
        store = Store(db_path)
    except StoreError as exc:
        raise ExportError("failed", folder=folder, problem=exc) from None
    writers: list[_Writer] = []
    try:
        # One read transaction: the count and every row come from the same
        # snapshot, whatever the kiosk commits meanwhile (WAL lets it write).
        with store.ratings_snapshot() as snapshot:
            total = snapshot.count()
            counter_id = counter or snapshot.latest_counter() or f"device-{store.device_id[:8]}"
            stamp = (now or local_now()).strftime("%Y%m%d-%H%M")
            names = _free_names(folder, f"hailong-{_safe(counter_id)}-{stamp}", formats)
            for fmt, final in zip(formats, names):
                writers.append(_open_writer(fmt, final, headers, text.get("export.sheet")))
            _report(progress, 0, total)
            written = 0
            yes_no = {True: text.get("export.yes"), False: text.get("export.no")}
            for row in _rows(snapshot, level_labels, yes_no):
                for writer in writers:
                    writer.write(row)
                written += 1
                if written % PROGRESS_EVERY == 0 and written < total:
                    _report(progress, written, total)
            if written != total:  # cannot happen inside one snapshot; never ship a file that disagrees
                raise ExportError("mismatch", written=written, expected=total)
            # Every file is closed and synced before any gets its real name, so a
            # failure (a full stick) leaves no complete-looking file of either kind.
            for writer in writers:
                writer.seal()
            paths = []
            for writer in writers:
                writer.publish()
                paths.append(writer.final)
            writers = []
    except OSError as exc:
        raise _as_export_error(exc, folder) from None
    except StoreError as exc:
        raise ExportError("failed", folder=folder, problem=exc) from None
    finally:
        for writer in writers:  # only the ones not finished: an error happened
            writer.discard()
        store.close()
    sync_folder(folder)
    _report(progress, total, total)
    return ExportResult(paths=paths, rows=total)


# -- reading ----------------------------------------------------------------------

_LEVEL_KEYS = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")

def _rows(snapshot: RatingsSnapshot, level_labels: dict[str, str],
          yes_no: dict[bool, str]) -> Iterator[list[Any]]:
    """One list of cell values per rating, in the order of :data:`COLUMNS`."""
    for rating in snapshot.rows():
        reasons: list[str] = []
        requested = False
        for details in rating.details:  # in the order they were written
            for reason in details.reasons or ():
                if reason not in reasons:
                    reasons.append(reason)
            # Whether a number was given with consent; never the number itself.
            requested = requested or bool(details.callback_consent)
        yield [
            rating.seq,
            rating.uuid,
            rating.device_time,
            rating.officer_id,
            rating.counter_id,
            rating.level,
            level_labels.get(rating.level, rating.level),
            rating.score,
            rating.scale,
            level_labels.get(rating.tapped_level, rating.tapped_level) if rating.tapped_level else "",
            _REASON_SEPARATOR.join(reasons),
            yes_no[requested],
            bool(rating.burst),
            bool(rating.simulated),
            rating.device_id,
            rating.hash,
        ]


# -- writing ------------------------------------------------------------------------


class _Writer:
    """One output file, written under a ``.partial`` name until it is finished."""

    def __init__(self, final: Path):
        self.final = final
        self.partial = final.with_name(final.name + ".partial")

    def write(self, row: list[Any]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def seal(self) -> None:
        """Close the file and sync it to the drive, still under its partial name."""
        self._close()
        _fsync_file(self.partial)

    def publish(self) -> None:
        """Give the sealed file its real name."""
        os.replace(self.partial, self.final)

    def _abandon(self) -> None:
        """Release what the writer holds without finishing the file."""
        raise NotImplementedError

    def discard(self) -> None:
        """Give up: release the writer and remove the partial file (if the
        drive is still there to remove it from)."""
        try:
            self._abandon()
        except Exception:  # noqa: BLE001 - already failing; the first error is the one to report
            pass
        try:
            self.partial.unlink(missing_ok=True)
        except OSError:
            pass


class _CsvWriter(_Writer):
    def __init__(self, final: Path, headers: list[str]):
        super().__init__(final)
        # utf-8-sig: the byte-order mark tells Excel the file is UTF-8.
        self._fh = open(_claim(self.partial), "w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(headers)

    def write(self, row: list[Any]) -> None:
        self._csv.writerow(["1" if v is True else "0" if v is False else v for v in row])

    def _close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    _abandon = _close


class _XlsxWriter(_Writer):
    def __init__(self, final: Path, headers: list[str], sheet: str):
        from openpyxl import Workbook

        super().__init__(final)
        # Claim the name now, as the CSV does, so two exports cannot collide.
        os.close(_claim(self.partial))
        # write_only streams rows to a temporary file instead of keeping a
        # cell object per value: 100,000 ratings stay within a tablet's memory.
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(sheet)
        self._sheet.freeze_panes = "A2"
        self._sheet.append(headers)
        self._saved = False

    def write(self, row: list[Any]) -> None:
        self._sheet.append(row)

    def _close(self) -> None:
        if not self._saved:
            self._saved = True
            self._book.save(self.partial)

    def _abandon(self) -> None:
        # Saving would write a whole workbook only to delete it. openpyxl
        # streams the rows to a temporary file of its own, which it removes
        # only on save or at exit; a kiosk runs for weeks, so remove it now.
        if self._saved:
            return
        self._saved = True
        self._sheet.close()  # ends the sheet's row stream, which writes into that file
        writer = getattr(self._sheet, "_writer", None)  # openpyxl keeps no public handle on it
        if writer is not None:
            writer.cleanup()


def _claim(path: Path) -> int:
    """Create ``path`` (it must not exist) readable and writable by its owner
    only, and return its descriptor: an export names officers and who asked
    for a call-back, so other accounts on the machine must not read it."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _open_writer(fmt: str, final: Path, headers: list[str], sheet: str) -> _Writer:
    if fmt == "csv":
        return _CsvWriter(final, headers)
    return _XlsxWriter(final, headers, sheet)


def _free_names(folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """File names for every format that exist in none of them, so an export
    never overwrites an earlier one made in the same minute."""
    suffix = ""
    n = 1
    while True:
        names = [folder / f"{stem}{suffix}.{fmt}" for fmt in formats]
        if not any(p.exists() or p.with_name(p.name + ".partial").exists() for p in names):
            return names
        n += 1
        suffix = f"-{n}"


def _safe(text: str) -> str:
    """A counter id as part of a file name that every file system accepts."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in text)
    return cleaned.strip("-") or "counter"


def _report(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _as_export_error(exc: OSError, folder: Path) -> ExportError:
    """Say what a failed write means for the person holding the USB stick."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return ExportError("disk_full", folder=folder)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENODEV, errno.EIO):
        return ExportError("not_writable", folder=folder)
    return ExportError("failed", folder=folder, problem=exc.strerror or exc)


# -- command line ----------------------------------------------------------------


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m kiosk.export",
        description="Export every rating of the tablet named by a config file into one CSV or XLSX file. "
        "Example: python -m kiosk.export --config config.yaml --out ratings.xlsx",
    )
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="the tablet's config file")
    parser.add_argument("--out", type=Path, required=True, help="the file to write (it must not exist yet)")
    parser.add_argument("--format", choices=FORMATS,
                        help="csv or xlsx (default: from the file's ending, else csv)")
    parser.add_argument("--language", choices=LANGUAGES, default="vi", help="headers' language (default vi)")
    return parser


def main(argv: Sequence[str] | None = None, *, out=None, err=None) -> int:
    """Command line; returns the exit status: 0 written, 1 the export failed
    (the reason on one line, in Vietnamese and English), 2 a broken config or
    bad arguments."""
    import sys
    import tempfile

    from kiosk.config import ConfigError, load_settings

    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    target: Path = args.out
    ending = target.suffix.lower().lstrip(".")
    fmt = args.format or (ending if ending in FORMATS else "csv")
    if args.format and ending in FORMATS and ending != args.format:
        print(f"error: --out {target} ends in .{ending} but --format is {args.format}", file=err)
        return 2
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc.line(), file=err)
        return 2
    if target.exists():
        print(f"error: {target} exists already; choose another name", file=err)
        return 2
    folder = target.parent if str(target.parent) else Path(".")
    try:
        # Written beside the target (same drive), then renamed: the name
        # only ever holds a whole file.
        with tempfile.TemporaryDirectory(prefix=".hailong-export-", dir=folder) as work:
            result = export_ratings(settings.database, Path(work), formats=(fmt,),
                                    counter=settings.counter_id, language=args.language)
            os.replace(result.paths[0], target)
    except ExportError as exc:
        print(f"export failed: {exc.message('vi')} ({exc.message('en')})", file=err)
        return 1
    except OSError as exc:
        error = _as_export_error(exc, folder)
        print(f"export failed: {error.message('vi')} ({error.message('en')})", file=err)
        return 1
    sync_folder(folder)
    print(f"exported {result.rows} ratings to {target}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
