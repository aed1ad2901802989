"""The dashboard's figures over a year of ratings (1,000,000 by default):
the officer board for a day and for a month, one officer's one-year history
(target: under 1 s each), both as figures and as pages rendered by the real
server over HTTP (a leader logged in), and the export of every rating
(target: under 10 s and 200 MB), beside a bare SQLite count over the same rows.

The database is built in a temporary folder from rows shaped exactly as the
ingest stores them (sealed records through the ingest's own row builder),
bulk inserted; its devices are named ``bench-…`` and its batches ``bench``.

    python bench/dashboard.py [--ratings 1000000] [--keep DIR] [--no-export]

A page's figure is the median of a few loads after the first; the first
(cold: templates compiled, caches empty) is reported apart.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from server.accounts import AccountBook, AccountError, Role  # noqa: E402
from server.api import create_app  # noqa: E402
from server.clock import CorrectedTime  # noqa: E402
from server.figures import board, officer_history  # noqa: E402
from server.ingest import Outcome  # noqa: E402
from server.roster import RosterStore, roster_document  # noqa: E402
from server.runner import BackgroundServer  # noqa: E402
from server.scores import Period, PeriodKind  # noqa: E402
from server.store import batches as stored_batches  # noqa: E402
from server.store import open_engine, tables  # noqa: E402
from sync.protocol import RecordStatus  # noqa: E402
from sync.record import GENESIS_HASH, KIND_DETAILS, KIND_RATING, Record, seal  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEVICES = 3
LAST_DAY = date(2026, 3, 31)
LEVELS = {1: "dissatisfied", 2: "satisfied", 3: "very_satisfied"}
LOW = ("waited_long", "come_back", "unclear_guidance", "not_listening", "disrespectful")
RECEIVED = "2026-04-01T00:00:00.000+00:00"
CALLBACK_BOX = "A" * 76 + "AA=="
HIGH = ("fast", "listened", "clear_guidance", "respectful", "friendly")
LEADER = ("bench-leader", "bench-leader-mật-khẩu-dài")
PAGE_LOADS = 5


def _roster_tree() -> dict:
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        tree = YAML(typ="safe").load(fh)
    tree["counters"] = [{"id": f"quay-{i + 1}", "name": f"Quầy số {i + 1}"} for i in range(DEVICES)]
    return tree


def build(db: Path, ratings: int) -> tuple[list[str], float]:
    """Fill ``db`` with ``ratings`` ratings over the year to :data:`LAST_DAY`; returns the officers and seconds."""
    started = time.perf_counter()
    engine = open_engine(db)
    document, images = roster_document(_roster_tree(), ROOT)
    RosterStore(engine).save(document, images)
    officers = [o["id"] for o in document["officers"]]
    rng = random.Random(8)
    first = datetime.combine(LAST_DAY - timedelta(days=364), datetime.min.time(), tzinfo=ZONE)
    # Opening hours 07:00–17:00 local, spread evenly over 365 days.
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA journal_mode=WAL")
    sql = None
    for d in range(DEVICES):
        device_id = f"bench-{d + 1}"
        with engine.begin() as conn:
            conn.execute(tables.devices.insert().values(
                device_id=device_id, label="bench", secret="x" * 64, status="active", head_hash=GENESIS_HASH,
                clock_off=False, head_seq=0, records_count=0))
            receipt = stored_batches.add_receipt(conn, device_id, "bench", RECEIVED)
    prev = {f"bench-{d + 1}": GENESIS_HASH for d in range(DEVICES)}
    seqs = dict.fromkeys(prev, 0)
    rows: list[dict] = []

    def keep(record: Record, when: datetime, flags: tuple[str, ...]) -> None:
        outcome = Outcome(0, RecordStatus.STORED, record.uuid, record.seq, record=record,
                          placed=CorrectedTime(when, "monotonic", 0.0))
        rows.append(stored_batches.record_row(receipt, outcome, flags))

    def flush() -> None:
        nonlocal sql
        if not rows:
            return
        if sql is None:
            keys = list(rows[0])
            sql = (f"INSERT INTO records ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})", keys)
        raw.executemany(sql[0], [[row[k] for k in sql[1]] for row in rows])
        raw.commit()
        rows.clear()

    for i in range(ratings):
        day, part = divmod(i * 365, ratings)
        when = first + timedelta(days=day, hours=7 + 10 * part / ratings)
        device_id = f"bench-{i % DEVICES + 1}"
        seqs[device_id] += 1
        officer = officers[rng.randrange(len(officers))]
        score = rng.choices((1, 2, 3), weights=(8, 40, 52))[0]
        simulated, burst = rng.random() < 0.02, rng.random() < 0.01
        record = seal(Record(
            kind=KIND_RATING, uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), device_id=device_id,
            seq=seqs[device_id], prev_hash=prev[device_id], device_time=when.isoformat(timespec="milliseconds"),
            monotonic_ns=i * 10**9, boot_id="bench-boot", app_version="0.1.0", simulated=simulated,
            officer_id=officer, counter_id=f"quay-{i % DEVICES + 1}", score=score, scale=3, level=LEVELS[score],
            burst=burst, comment_token="t" * 16,
        ))
        prev[device_id] = record.hash
        flags = tuple(name for name, on in (("burst", burst), ("simulated", simulated)) if on)
        keep(record, when.astimezone(UTC), flags)
        if rng.random() < 0.15:
            seqs[device_id] += 1
            reasons = tuple(rng.sample(LOW if score == 1 else HIGH, 2))
            details = seal(Record(
                kind=KIND_DETAILS, uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), device_id=device_id,
                seq=seqs[device_id], prev_hash=prev[device_id], device_time=when.isoformat(timespec="milliseconds"),
                monotonic_ns=i * 10**9 + 1, boot_id="bench-boot", app_version="0.1.0", simulated=simulated,
                rating_uuid=record.uuid, reasons=reasons,
                # A call-back asked for, its number sealed as a tablet seals it (a stand-in box here).
                callback_box=CALLBACK_BOX if score == 1 else None, callback_consent=score == 1,
            ))
            prev[device_id] = details.hash
            keep(details, (when + timedelta(seconds=20)).astimezone(UTC), flags)
        if len(rows) >= 20_000:
            flush()
    flush()
    raw.execute("ANALYZE")
    raw.close()
    engine.dispose()
    return officers, time.perf_counter() - started


def timed(work) -> tuple[float, object]:
    """Seconds ``work()`` took, and what it returned."""
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def median_timed(work, runs: int = 3) -> tuple[float, object]:
    """The median seconds of ``runs`` calls of ``work()`` (a machine shared
    with other work makes any one of them jump), and what the last returned."""
    times, result = [], None
    for _ in range(runs):
        seconds, result = timed(work)
        times.append(seconds)
    return statistics.median(times), result


def _logged_in(url: str) -> requests.Session:
    """A browser-like session of the bench's leader, through the login form."""
    http = requests.Session()
    form = http.get(f"{url}/login", timeout=30)
    token = re.search(r'name="csrf" value="([^"]*)"', form.text)
    if token is None:
        raise RuntimeError("the login page has no CSRF field")
    answer = http.post(f"{url}/login", timeout=30, allow_redirects=False, data={
        "username": LEADER[0], "password": LEADER[1], "csrf": token.group(1), "next": "/"})
    if answer.status_code != 303:
        raise RuntimeError(f"the login failed: {answer.status_code}")
    return http


def page_loads(db: Path, officer: str) -> list[tuple[str, float, float, float, str]]:
    """Load the board of the last month and ``officer``'s one-year history
    from the real server on loopback, as a leader: for each, the first load's
    seconds, the median of :data:`PAGE_LOADS` more, their target, and a note."""
    engine = open_engine(db)
    try:
        AccountBook(engine).create(LEADER[0], LEADER[1], Role.LEADER, display_name="Bench leader")
    except AccountError as refused:
        if refused.code != "username_taken":
            raise
    # Calendar year 2025 holds nine months of the bench's data (April–December).
    year_day = (LAST_DAY - timedelta(days=200)).isoformat()
    pages = (
        ("board page, one month", f"/board?kind=month&day={LAST_DAY.isoformat()}"),
        ("one officer's page, one year", f"/officers/{officer}?kind=year&day={year_day}"),
        ("one officer's page, 365 days", f"/officers/{officer}?kind=range"
                                         f"&first={(LAST_DAY - timedelta(days=364)).isoformat()}"
                                         f"&last={LAST_DAY.isoformat()}"),
    )
    results = []
    with BackgroundServer(create_app(engine)) as server:
        http = _logged_in(server.url)
        for name, path in pages:
            times = []
            for _ in range(PAGE_LOADS + 1):
                seconds, answer = timed(lambda address=server.url + path: http.get(address, timeout=120))
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")
                times.append(seconds)
            results.append((name, times[0], statistics.median(times[1:]), 1.0,
                            f"{len(answer.content) / 1000:.0f} kB"))
    engine.dispose()
    return results


# Runs ``python -m server`` and says its own peak memory at exit. The
# child's rusage would not do: on Linux it counts the memory of the process
# it was started from (this one, with a server in it) until it execs.
_EXPORT_CHILD = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kb = [line.split()[1] for line in status if line.startswith('VmHWM:')]\n"
    "    print('peak-kb', kb[0] if kb else '0', file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "sys.argv = ['server', *sys.argv[1:]]\n"
    "runpy.run_module('server', run_name='__main__')\n"
)
"""Runs ``python -m server`` and says its own peak memory at exit."""


def _pss_kb(pid: int) -> int:
    """A process's proportional set size (its own pages, and its share of
    those it shares), in kB; 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            return [int(child) for child in listed.read().split()]
    except OSError:
        return []


def exported(arguments: list[str]) -> tuple[float, str, float, float]:
    """Run ``python -m server`` with these arguments: its seconds, what it
    said, its own peak memory (VmHWM) and the peak of the memory it and the
    processes it forks hold together (their PSS summed, sampled every 50 ms),
    in MB (Linux)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", _EXPORT_CHILD, *arguments], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    together = 0
    while process.poll() is None:
        together = max(together, _pss_kb(process.pid) + sum(_pss_kb(c) for c in _children(process.pid)))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    lines = process.stderr.read().splitlines()
    if process.returncode:
        raise RuntimeError(f"python -m server {' '.join(arguments)} failed: {lines[-3:]}")
    said = [line for line in lines if not line.startswith("peak-kb ")]
    peak = [line.split()[1] for line in lines if line.startswith("peak-kb ")]
    return seconds, " ".join(said).strip(), int(peak[0]) / 1024 if peak else float("nan"), together / 1024


def _target(seconds: float | None) -> str:
    return f"< {seconds:g} s" if seconds else ""


def _verdict(seconds: float, target: float | None) -> str:
    return "" if target is None else ("ok " if seconds < target else "MISSED ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--keep", help="build (or reuse) the database in this folder instead of a temporary one")
    parser.add_argument("--no-export", action="store_true", help="time the figures and pages only")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hailong-dashboard-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "commune.db"
    if not db.exists():
        officers, seconds = build(db, args.ratings)
        print(f"built {args.ratings:,} ratings in {seconds:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
    else:
        officers = [o["id"] for o in roster_document(_roster_tree(), ROOT)[0]["officers"]]
    engine = open_engine(db)
    # A warm cache, as on a server that is running: the first read of the file is the disk's figure.
    board(engine, Period.of(PeriodKind.MONTH, LAST_DAY, ZONE))

    figures = []
    day_s, day = median_timed(lambda: board(engine, Period.of(PeriodKind.DAY, LAST_DAY - timedelta(days=1), ZONE)))
    figures.append(("officer board, one day", day_s, 1.0, f"{day.commune.total:,} ratings"))
    month_s, month = median_timed(lambda: board(engine, Period.of(PeriodKind.MONTH, LAST_DAY, ZONE)))
    figures.append(("officer board, one month", month_s, 1.0, f"{month.commune.total:,} ratings"))
    year = Period.between(LAST_DAY - timedelta(days=364), LAST_DAY, ZONE)
    history_s, history = median_timed(lambda: officer_history(engine, officers[0], year))
    figures.append(("one officer, one-year history", history_s, 1.0, f"{history.total.total:,} ratings"))
    engine.dispose()

    raw = sqlite3.connect(db)
    month_period = Period.of(PeriodKind.MONTH, LAST_DAY, ZONE)
    bare_s, _ = timed(lambda: raw.execute(
        "SELECT officer_id, level, count(*) FROM records WHERE kind = 'rating' "
        "AND corrected_time >= ? AND corrected_time < ? GROUP BY officer_id, level",
        (month_period.start_utc.isoformat(timespec="milliseconds"),
         month_period.end_utc.isoformat(timespec="milliseconds"))).fetchall())
    figures.append(("bare SQLite GROUP BY, one month", bare_s, None, "baseline"))
    all_s, counted = timed(lambda: raw.execute(
        "SELECT officer_id, level, count(*) FROM records WHERE kind = 'rating' GROUP BY officer_id, level").fetchall())
    figures.append(("bare SQLite GROUP BY, every rating", all_s, None,
                    f"baseline, {sum(r[2] for r in counted):,} ratings"))
    raw.close()

    pages = page_loads(db, officers[0])

    if not args.no_export:
        out = folder / "ratings.csv"
        export_s, said, peak_mb, together_mb = exported(["export", "--db", str(db), "--out", str(out)])
        writers = min(4, os.cpu_count() or 1)
        figures.append(("export CSV, every rating", export_s, 10.0,
                        f"{said}; {together_mb:.0f} MB at most with its {writers} writer processes (PSS summed; "
                        f"target 200 MB), {peak_mb:.0f} MB peak RSS of the command itself"))
        xlsx = folder / "month.xlsx"
        xlsx_s, said, peak_mb, _together_mb = exported([
            "export", "--db", str(db), "--format", "xlsx", "--out", str(xlsx),
            "--from", month_period.first.isoformat(), "--to", month_period.last.isoformat()])
        figures.append(("export XLSX, one month", xlsx_s, None, f"{said}; peak RSS {peak_mb:.0f} MB"))

    print(f"{'figure':36} {'time':>9} {'target':>8}  notes")
    for name, seconds, target, note in figures:
        print(f"{name:36} {seconds * 1000:7.0f} ms {_target(target):>8}  {_verdict(seconds, target)}{note}")
    print(f"\n{'page (GET over HTTP, as a leader)':36} {'median':>9} {'target':>8}  notes")
    for name, cold, median, target, note in pages:
        print(f"{name:36} {median * 1000:7.0f} ms {_target(target):>8}  {_verdict(median, target)}"
              f"first load {cold * 1000:.0f} ms, median of {PAGE_LOADS} after; {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
