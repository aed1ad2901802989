"""The evidence archive of a reporting period (hồ sơ lưu trữ minh chứng):
one ZIP file a commune keeps, and an inspector can check, holding

* ``ratings.csv``: every rating of the period, as the export writes it
  (:mod:`server.export`: names, local times, flags, never a phone number);
* ``devices.json``: each device's chain as the server holds it: its head
  (sequence and hash), the records it has stored, whether the records table
  agrees (the count, the highest sequence, the head record's hash), its
  open findings, and its records of the period verified again
  (:func:`device_checks`);
* ``report.xlsx`` and ``report.pdf``: the commune's report of the period,
  without the comments' texts (an archive outlives the comments' retention);
* ``README.txt``: what the files are and how to check them;
* ``MANIFEST-SHA256.txt``: the SHA-256 of every other file, in the form
  ``sha256sum -c`` reads.

Making an archive is audited (``report.archive``) and noted per period
(:func:`server.store.reports.record_archive`), which the deadline reminder
reads (:func:`server.reports.reminder_for`). :func:`verify_archive` checks a
ZIP against its manifest: a file altered, missing or added fails it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine

from server.accounts import AccountBook
from server.chain_recheck import ChainProblem, recheck
from server.clock import Clock, utc_now, utc_text
from server.export import ExportRange, write_csv
from server.i18n import translator
from server.report_files import render_report_pdf, write_xlsx
from server.reports import build_report, period_code, period_label
from server.scores import Exclusions, Period
from server.settings import load_settings
from server.store import read_transaction, write_transaction
from server.store import reports as stored
from sync.record import GENESIS_HASH

__all__ = ["MANIFEST", "README", "ARCHIVE_FILES", "RECHECKED", "NOT_RECHECKED", "ArchiveMade", "ArchiveCheck",
           "make_archive", "device_checks", "verify_archive", "archive_filename", "archives_made"]

MANIFEST = "MANIFEST-SHA256.txt"
README = "README.txt"
ARCHIVE_FILES = ("ratings.csv", "devices.json", "report.xlsx", "report.pdf", README)
"""The files the manifest lists, in its order."""
RECHECKED = ("hash", "prev_hash", "sequence", "seal_presence")
"""What :func:`device_checks` verifies again in the stored records (``devices.json`` says so)."""
NOT_RECHECKED = ("seal",)
"""What it cannot: a seal's HMAC needs the key of its time, which the server no longer holds (by design)."""

log = logging.getLogger("hailong.server.evidence")


@dataclass(frozen=True)
class ArchiveMade:
    """An archive just made: its period, its own SHA-256 and each file's."""

    code: str
    sha256: str
    files: dict[str, str]
    ratings: int
    made_at: str
    flagged: tuple[dict, ...] = ()
    """The devices whose chain check found something (their ``devices.json`` entries)."""


@dataclass(frozen=True)
class ArchiveCheck:
    """What :func:`verify_archive` found: ``ok`` when every listed file is
    there with its hash and nothing else is."""

    checked: dict[str, bool]
    missing: tuple[str, ...]
    unlisted: tuple[str, ...]
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return (self.problem is None and not self.missing and not self.unlisted and bool(self.checked)
                and all(self.checked.values()))


def archive_filename(code: str) -> str:
    """``ho-so-minh-chung-2026-H1.zip``."""
    return f"ho-so-minh-chung-{code.replace('..', '_')}.zip"


def device_checks(engine: Engine, period: Period | None = None) -> list[dict]:
    """Each device's chain check (the ``devices.json`` of the archive).

    Besides what the devices and records tables say of each chain (its
    head, counts and open findings), the stored records are verified again
    (:func:`server.chain_recheck.recheck`: hashes, links, sequence, where
    the seals must be). With a ``period``, a device's records from the one
    before its first rating of the period to the first rating after its
    last: every record the period holds, and the links into and out of it;
    without, the device's whole chain (docs/reports.md says why the archive
    takes the period). One read transaction: a snapshot, which holds up no
    upload (on SQLite, WAL)."""
    started = time.perf_counter()
    with read_transaction(engine) as conn:
        rows = stored.device_chains(conn)
        spans = stored.period_seq_spans(conn, period) if period is not None else None
        noted = stored.finding_places(conn)
        checks = [_device_check(conn, row, spans, noted.get(row["device_id"], set())) for row in rows]
    log.info("chains verified again: %d records of %d devices in %.1f s",
             sum(c["records_verified"] for c in checks), len(checks), time.perf_counter() - started)
    return checks


def _device_check(conn: Connection, row: dict, spans: dict[str, tuple[int, int]] | None,
                  noted: set[tuple[int, str]]) -> dict:
    """One device's entry of ``devices.json``."""
    device_id = row["device_id"]
    findings = row["open_findings"]
    head_agrees = (row["head_seq"] == 0 and row["head_record_hash"] is None) or \
        row["head_record_hash"] == row["head_hash"]
    # A device's sequence numbers run 1, 2, 3…: all there when the highest equals the count.
    complete = row["stored_count"] == row["records_count"] and (row["stored_max_seq"] or 0) == row["stored_count"]
    # Where the records must run to: the head the device reached, or the highest stored.
    top = max(row["stored_max_seq"] or 0, row["head_seq"] or 0)
    if spans is None:
        first, last, end = 1, None, top
    elif device_id in spans:
        # From the record before the period's first rating (the link into it) to the
        # first rating after its last: the details and correction of the period's last
        # rating are in, and the link out of it.
        low, high = spans[device_id]
        first, last = max(1, low - 1), stored.next_rating_seq(conn, device_id, high)
        end = top if last is None else min(last, top)
    else:
        first = last = end = None  # no rating of the period: nothing of this chain to verify for it
    if first is None:
        walk = recheck(())
    else:
        walk = recheck(stored.chain_rows(conn, device_id, first, last), start_seq=first,
                       start_prev_hash=GENESIS_HASH if first == 1 else None, end_seq=end,
                       seal_first_seq=row["seal_first_seq"], noted=noted)
    sealed_from, seal_seq = row["seal_first_seq"], row["seal_seq"]
    return {
        "device_id": device_id, "label": row["label"], "status": row["status"],
        "head_seq": row["head_seq"], "head_hash": row["head_hash"], "records_count": row["records_count"],
        "stored_records": row["stored_count"], "stored_max_seq": row["stored_max_seq"],
        "head_record_hash": row["head_record_hash"], "head_agrees": head_agrees, "sequence_complete": complete,
        "open_findings": [{k: f[k] for k in ("seq", "problem", "detail", "found_at")} for f in findings],
        "records_verified": walk.records, "verified_from_seq": walk.first_seq, "verified_to_seq": walk.last_seq,
        "problems_found": walk.problem_count,
        "first_problem": _problem(walk.problems[0]) if walk.problems else None,
        "problems": [_problem(p) for p in walk.problems],
        "sealed_from_seq": sealed_from,
        # The last record whose seal the server verified on arrival (the key it keeps is the next one's).
        "seals_verified_to_seq": seal_seq - 1 if sealed_from is not None and seal_seq is not None
        and seal_seq > sealed_from else None,
        "result": "intact" if head_agrees and complete and not findings and walk.intact else "flagged",
    }


def _problem(problem: ChainProblem) -> dict:
    return {"seq": problem.seq, "problem": problem.problem, "detail": problem.detail,
            "noted_on_arrival": problem.noted_on_arrival}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingWriter(io.RawIOBase):
    """A write-only stream that passes bytes on and hashes them (the
    archive's own SHA-256, noted with the record that it was made)."""

    def __init__(self, target: IO[bytes]):
        self.target = target
        self.digest = hashlib.sha256()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.target.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.target.flush()

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def make_archive(engine: Engine, period: Period, out: str | Path | IO[bytes], *, actor: str | None = None,
                 address: str | None = None, clock: Clock = utc_now,
                 exclusions: Exclusions = Exclusions()) -> ArchiveMade:
    """Write the period's evidence archive to ``out`` (a path or a binary
    stream), audit it and note it for the reminder."""
    settings = load_settings(engine)
    now = clock()
    code = period_code(period)
    t = translator("vi")
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="hai-long-archive-") as scratch:
        # The ratings may be many: written to disk and hashed as a stream, never held in memory.
        ratings_path = Path(scratch) / "ratings.csv"
        with open(ratings_path, "wb") as fh:
            count = write_csv(engine, fh, ExportRange(period.first, period.last))
        checks = {"period": code, "checked_at": utc_text(now),
                  "verified_again": {"scope": "period", "rechecked": list(RECHECKED),
                                     "not_rechecked": list(NOT_RECHECKED)},
                  "devices": device_checks(engine, period)}
        flagged = tuple(check for check in checks["devices"] if check["result"] != "intact")
        files["devices.json"] = json.dumps(checks, ensure_ascii=False, indent=2).encode("utf-8")
        report = build_report(engine, period, exclusions=exclusions, settings=settings, now=now)
        sheet = io.BytesIO()
        write_xlsx(report, sheet, commune=settings.commune_name, zone_name=settings.timezone)
        files["report.xlsx"] = sheet.getvalue()
        files["report.pdf"] = render_report_pdf(report, settings, day=now.astimezone(settings.zone).date())
        files[README] = t("reports.archive.readme", commune=settings.commune_name or t("app.commune_unknown"),
                          period=period_label(period, t), code=code, first=period.first.strftime("%d/%m/%Y"),
                          last=period.last.strftime("%d/%m/%Y"), zone=settings.timezone,
                          made_at=now.astimezone(settings.zone).strftime("%d/%m/%Y %H:%M")).encode("utf-8")
        hashes = {name: _digest(data) for name, data in files.items()}
        hashes["ratings.csv"] = _file_digest(ratings_path)
        # Two spaces between hash and name: the form sha256sum writes and reads.
        manifest = "".join(f"{hashes[name]}  {name}\n" for name in ARCHIVE_FILES).encode("ascii")

        stamp = now.astimezone(settings.zone).timetuple()[:6]
        target = open(out, "wb") if isinstance(out, str | Path) else out  # noqa: SIM115 - closed below
        try:
            hashed = _HashingWriter(target)
            with zipfile.ZipFile(hashed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name in (*ARCHIVE_FILES, MANIFEST):
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    if name == "ratings.csv":
                        with open(ratings_path, "rb") as source, archive.open(info, "w") as entry:
                            while chunk := source.read(1 << 20):
                                entry.write(chunk)
                    else:
                        archive.writestr(info, manifest if name == MANIFEST else files[name])
        finally:
            if target is not out:
                target.close()

    made = ArchiveMade(code=code, sha256=hashed.hexdigest(), files=hashes, ratings=count, made_at=utc_text(now),
                       flagged=flagged)
    write_transaction(engine, lambda conn: stored.record_archive(
        conn, code, {"made_at": made.made_at, "by": actor, "sha256": made.sha256, "ratings": count,
                     "flagged": len(flagged)},
        stamp=made.made_at))
    AccountBook(engine, clock=clock).audit(actor, "report.archive", code,
                                           f"sha256={made.sha256} ratings={count} flagged={len(flagged)}", address)
    return made


def verify_archive(source: str | Path | IO[bytes]) -> ArchiveCheck:
    """Check an archive against its manifest."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                return ArchiveCheck({}, (MANIFEST,), (), "no_manifest")
            listed: dict[str, str] = {}
            for line in archive.read(MANIFEST).decode("utf-8").splitlines():
                if not line.strip():
                    continue
                digest, _, name = line.partition("  ")
                listed[name.lstrip("*")] = digest.strip().lower()
            checked = {name: name in names and _digest(archive.read(name)) == digest
                       for name, digest in listed.items()}
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        return ArchiveCheck({}, (), (), f"unreadable: {exc}")
    missing = tuple(sorted(name for name in listed if name not in names))
    unlisted = tuple(sorted(names - set(listed) - {MANIFEST}))
    return ArchiveCheck(checked, missing, unlisted)


def archives_made(engine: Engine, codes: list[str] | None = None) -> dict[str, dict]:
    """The archives made, by period code: when, by whom, their SHA-256."""
    with read_transaction(engine) as conn:
        return stored.archives_made(conn, codes)

