"""The dashboard's figures over a year of ratings (1,000,000 by default):
the officer board for a day and for a month, one officer's one-year history
(target: under 1 s each), and the export of every rating (target: under 10 s
and 200 MB), beside a bare SQLite count over the same rows.

The database is built in a temporary folder from rows shaped exactly as the
ingest stores them (sealed records through the ingest's own row builder),
bulk inserted; its devices are named ``bench-…`` and its batches ``bench``.

    python bench/dashboard.py [--ratings 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruamel.yaml import YAML  # noqa: E402

from server.clock import CorrectedTime  # noqa: E402
from server.figures import board, officer_history  # noqa: E402
from server.ingest import Outcome, content_digest, wire_text  # noqa: E402
from server.roster import RosterStore, roster_document  # noqa: E402
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
HIGH = ("fast", "listened", "clear_guidance", "respectful", "friendly")


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
    prev = {f"bench-{d + 1}": GENESIS_HASH for d in range(DEVICES)}
    seqs = dict.fromkeys(prev, 0)
    rows: list[dict] = []

    def keep(record: Record, when: datetime, flags: tuple[str, ...]) -> None:
        text = wire_text(record)
        outcome = Outcome(0, RecordStatus.STORED, record.uuid, record.seq, record=record, wire_text=text,
                          digest=content_digest(record, text), placed=CorrectedTime(when, "monotonic", 0.0))
        rows.append(stored_batches.record_row(record.device_id, "bench", outcome, flags, RECEIVED))

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
                callback_phone="0912345678" if score == 1 else None, callback_consent=score == 1,
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
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--keep", help="build (or reuse) the database in this folder instead of a temporary one")
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
    day_s, day = timed(lambda: board(engine, Period.of(PeriodKind.DAY, LAST_DAY - timedelta(days=1), ZONE)))
    figures.append(("officer board, one day", day_s, 1.0, f"{day.commune.total:,} ratings"))
    month_s, month = timed(lambda: board(engine, Period.of(PeriodKind.MONTH, LAST_DAY, ZONE)))
    figures.append(("officer board, one month", month_s, 1.0, f"{month.commune.total:,} ratings"))
    year = Period.between(LAST_DAY - timedelta(days=364), LAST_DAY, ZONE)
    history_s, history = timed(lambda: officer_history(engine, officers[0], year))
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

    out = folder / "ratings.csv"
    export_s, finished = timed(lambda: subprocess.run(
        [sys.executable, "-m", "server", "export", "--db", str(db), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=True))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures.append(("export CSV, every rating", export_s, 10.0,
                    f"{finished.stderr.strip()}; peak RSS {peak_mb:.0f} MB (target 200 MB)"))
    xlsx = folder / "month.xlsx"
    first = month_period.first.isoformat()
    xlsx_s, finished = timed(lambda: subprocess.run(
        [sys.executable, "-m", "server", "export", "--db", str(db), "--format", "xlsx", "--out", str(xlsx),
         "--from", first, "--to", month_period.last.isoformat()],
        cwd=ROOT, capture_output=True, text=True, check=True))
    figures.append(("export XLSX, one month", xlsx_s, None, finished.stderr.strip()))

    print(f"{'figure':36} {'time':>9} {'target':>8}  notes")
    for name, seconds, target, note in figures:
        verdict = "" if target is None else ("ok " if seconds < target else "SLOW ")
        print(f"{name:36} {seconds * 1000:7.0f} ms {('< ' + format(target, 'g') + ' s') if target else '':>8}  "
              f"{verdict}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
