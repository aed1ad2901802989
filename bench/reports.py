"""The periodic reports over a year of ratings (1,000,000 by default): the
commune's report for a month and for the whole year (target: under 1 s
each), as figures (:func:`server.reports.build_report`) counted afresh, then
again after 1,000 more ratings arrived (what the server kept is added to),
and with its XLSX and PDF written, beside a bare SQLite count over the same rows.
Then the evidence archive of the month and of the year (target: under 5 s
and 30 s, half the reverse proxy's 60 s wait of docs/server-install.md), and
apart the devices' chains verified again (:func:`server.evidence.device_checks`):
the archive's scope, a period's records, for the month and the year, and
every device's whole chain, per record.

The database is :mod:`bench.dashboard`'s (built the same way, in a temporary
folder or in ``--keep DIR``, where the dashboard benchmark can reuse it).

    python bench/reports.py [--ratings 1000000] [--keep DIR]

Each figure is the median of 3 runs after a first one that warms the cache
(as on a running server); wall-clock time, and the process's CPU time beside
it (the machine may be shared).
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import LAST_DAY, ZONE, build  # noqa: E402

from server.clock import utc_text  # noqa: E402
from server.evidence import device_checks, make_archive  # noqa: E402
from server.report_files import render_report_pdf, write_xlsx  # noqa: E402
from server.reports import build_report, forget_counts  # noqa: E402
from server.scores import Period, PeriodKind  # noqa: E402
from server.settings import load_settings  # noqa: E402
from server.store import open_engine  # noqa: E402

RUNS = 3
TARGET_S = 1.0
ARCHIVE_TARGET_S = {"month": 5.0, "year": 30.0}
"""An archive is made while the leader's browser waits, behind a proxy that waits 60 s."""


def timed(work, runs: int = RUNS) -> tuple[float, float, object]:
    """The median wall and CPU seconds of ``runs`` calls of ``work()``
    (after one to warm the cache), and what the last returned."""
    work()
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def _more_ratings(db: Path, period: Period, count: int) -> None:
    """Copy ``count`` of the period's ratings as new rows (new UUIDs, the
    sequence past the device's), as if they had just arrived (deleted once
    the figures are taken)."""
    raw = sqlite3.connect(db)
    columns = [row[1] for row in raw.execute("PRAGMA table_info(records)") if row[1] != "id"]
    top = raw.execute("SELECT max(seq) FROM records").fetchone()[0]
    picked = ", ".join(f"{top} + row_number() OVER ()" if c == "seq" else "lower(hex(randomblob(16)))" if c == "uuid"
                       else c for c in columns)
    raw.execute(f"INSERT INTO records ({', '.join(columns)}) SELECT {picked} FROM records "
                "WHERE kind = 'rating' AND corrected_time >= ? AND corrected_time < ? LIMIT ?",
                (utc_text(period.start_utc), utc_text(period.end_utc), count))
    raw.commit()
    raw.close()


def _set_heads(db: Path) -> None:
    """Give the built devices the head the ingest would have left (the
    build writes the records only), so their chains check as they would on
    a server."""
    with sqlite3.connect(db) as raw:
        raw.execute("""UPDATE devices SET
            head_seq = (SELECT max(seq) FROM records r WHERE r.device_id = devices.device_id),
            records_count = (SELECT count(*) FROM records r WHERE r.device_id = devices.device_id),
            head_hash = (SELECT lower(hex(hash)) FROM records r WHERE r.device_id = devices.device_id
                         ORDER BY seq DESC LIMIT 1)
            WHERE EXISTS (SELECT 1 FROM records r WHERE r.device_id = devices.device_id)""")


def _archive_rows(db: Path, engine, periods: dict[str, Period], folder: Path) -> list[tuple]:
    """The evidence archive of each period (one run after a warm one: a
    year's takes a while), and the chains verified again: the archive's
    scope per period, and every device's whole chain."""
    _set_heads(db)
    rows = []
    for name, period in periods.items():
        out = folder / f"archive-{name}.zip"
        wall, cpu, made = timed(lambda period=period, out=out: make_archive(engine, period, out), runs=1)
        rows.append((f"evidence archive, {name}", wall, cpu, ARCHIVE_TARGET_S[name],
                     f"{made.ratings:,} ratings, {out.stat().st_size / 1e6:.0f} MB"))
    for name, period in (*periods.items(), ("whole chains", None)):
        wall, cpu, checks = timed(lambda period=period: device_checks(engine, period), runs=1)
        verified = sum(c["records_verified"] for c in checks)
        intact = sum(c["result"] == "intact" for c in checks)
        rows.append((f"  chains verified again, {name}", wall, cpu, None,
                     f"{verified:,} records, {wall / max(verified, 1) * 1e6:.1f} µs each, "
                     f"{intact} of {len(checks)} devices intact"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--keep", help="build (or reuse) the database in this folder instead of a temporary one")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hailong-reports-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "commune.db"
    if not db.exists():
        _, seconds = build(db, args.ratings)
        print(f"built {args.ratings:,} ratings in {seconds:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
    engine = open_engine(db)
    settings = load_settings(engine)
    with sqlite3.connect(db) as raw:
        built_upto = raw.execute("SELECT max(id) FROM records").fetchone()[0]
    month = Period.of(PeriodKind.MONTH, LAST_DAY, ZONE)
    year = Period.between(LAST_DAY - timedelta(days=364), LAST_DAY, ZONE)
    rows = []
    for name, period in (("month", month), ("year (365 days)", year)):
        def afresh(period=period):
            forget_counts(engine)
            return build_report(engine, period, settings=settings)

        wall, cpu, report = timed(afresh)
        rows.append((f"commune report, {name}: figures", wall, cpu, TARGET_S,
                     f"{report.figures.total:,} ratings, {sum(r.total for r in report.reasons.values()):,} reasons"))

        def after_more(period=period):
            build_report(engine, period, settings=settings)
            _more_ratings(db, period, 1_000)
            started = time.perf_counter(), time.process_time()
            report = build_report(engine, period, settings=settings)
            return time.perf_counter() - started[0], time.process_time() - started[1], report

        samples = [after_more() for _ in range(RUNS)]
        with sqlite3.connect(db) as raw:
            raw.execute("DELETE FROM records WHERE id > ?", (built_upto,))  # the copies just added
        rows.append(("the same again, 1,000 ratings later", statistics.median(s[0] for s in samples),
                     statistics.median(s[1] for s in samples), None,
                     f"{samples[-1][2].figures.total:,} ratings: the kept counts plus the new rows"))

        def files(report=report) -> int:
            sheet = io.BytesIO()
            write_xlsx(report, sheet, commune=settings.commune_name)
            return len(sheet.getvalue()) + len(render_report_pdf(report, settings, day=date.today()))

        wall, cpu, size = timed(files)
        rows.append((f"commune report, {name}: XLSX + PDF", wall, cpu, None, f"{size / 1024:.0f} kB"))
    rows += _archive_rows(db, engine, {"month": month, "year": year}, folder)
    engine.dispose()

    raw = sqlite3.connect(db)
    for name, period in (("month", month), ("year", year)):
        wall, cpu, counted = timed(lambda period=period: raw.execute(
            "SELECT count(*) FROM records WHERE kind = 'rating' AND corrected_time >= ? AND corrected_time < ?",
            (utc_text(period.start_utc), utc_text(period.end_utc))).fetchone()[0])
        rows.append((f"bare SQLite count, {name}", wall, cpu, None, f"baseline, {counted:,} ratings"))
    raw.close()

    print(f"{'figure':44} {'time':>9} {'CPU':>9} {'target':>8}  notes")
    for name, wall, cpu, target, note in rows:
        verdict = "" if target is None else ("ok " if wall < target else "MISSED ")
        target_text = f"< {target:g} s" if target else ""
        print(f"{name:44} {wall * 1000:6.0f} ms {cpu * 1000:6.0f} ms {target_text:>8}  {verdict}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
