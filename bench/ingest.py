"""Server ingest rate against the disk's limit: ratings per second stored by
the commune server over loopback HTTP, in batches of 500 and of 1,000, with
every check on (the batch's signature, the chain, the forward-secure seals,
idempotency), beside a raw SQLite bulk insert of the very same rows into the
same tables and indexes, measured in the same run, batch by batch in turn
(target: at least 50% of it). The ratings are sealed as a tablet seals them,
its first key registered with the server as at pairing.

The server runs as ``python -m server`` in its own process, as deployed (the
tablets' side — building, signing and reading the answers — stays out of
its interpreter). Each batch size is measured several times, each time with
a new device and its own chain, each of its batches followed by the raw
insert of the same rows, so that both sides meet the same moments of a
shared machine; the median is the figure, with the slowest and fastest run
beside it (the fsync of every commit makes single runs vary a lot). Both
sides commit once per batch, with the server's SQLite settings (WAL,
``synchronous=FULL``, its checkpoint threshold: the raw insert is no slower
for a setting the server tuned). Below each ratio, the CPU each side
spent per rating (the server process's, all its threads, read from Linux's
/proc; the raw insert's thread): the rates also move with the disk's fsync
and with other work on the machine.

Last, four new tablets upload at once (batches of 500, a quarter of
``--ratings`` each), as the tablets of a busy commune do: the ratings
stored per second and how long a tablet waited for its answer, with no
target (the server lets its writers take turns; SQLite's own wait for its
lock sleeps longer and longer between tries).

    python bench/ingest.py [--ratings 20000] [--runs 5]
    make bench-postgres        (the same on a throwaway PostgreSQL, fsync on,
                                beside a raw COPY of the same rows)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import orjson
import requests
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.link.uploader import build_batch_body  # noqa: E402
from kiosk.store import Batch  # noqa: E402
from server.clock import CorrectedTime  # noqa: E402
from server.ingest import Outcome  # noqa: E402
from server.registry import DeviceRegistry  # noqa: E402
from server.store import batches as stored_batches  # noqa: E402
from server.store import open_engine  # noqa: E402
from server.store.database import SQLITE_SETTINGS  # noqa: E402
from sync import wire  # noqa: E402
from sync.protocol import API_PREFIX, DEVICE_HEADER, SIGNATURE_HEADER, RecordStatus, sign  # noqa: E402
from sync.record import GENESIS_HASH, KIND_RATING, Record, seal  # noqa: E402
from sync.seal import new_key, next_key, seal_record  # noqa: E402

TARGET_SHARE = 0.5
BATCH_SIZES = (500, 1000)
# The tablet's clock agrees with the server's: no record is flagged clock_off.
TABLET_ZONE = timezone(timedelta(hours=7))


def device_time(start: datetime, milliseconds: int) -> str:
    """A device time ``milliseconds`` after ``start``, as a tablet writes it."""
    return (start + timedelta(milliseconds=milliseconds)).isoformat(timespec="milliseconds")


def make_chain(device_id: str, count: int, key: bytes | None = None) -> list[Record]:
    """``count`` ratings of one device, hashed and chained; sealed from the first when ``key`` is given.
    Each is made a millisecond after the one before, on the device's clock and
    its monotonic clock alike (every record's time is its own, as a tablet's are)."""
    records, prev = [], GENESIS_HASH
    start = datetime.now(TABLET_ZONE)
    for seq in range(1, count + 1):
        record = seal(Record(
            kind=KIND_RATING, uuid=str(uuid.uuid4()), device_id=device_id, seq=seq, prev_hash=prev,
            device_time=device_time(start, seq), monotonic_ns=seq * 1_000_000, boot_id="bench-boot",
            app_version="0.1.0", officer_id="nguyen-thi-lan", counter_id="quay-1", score=1 + seq % 3, scale=3,
            level="satisfied", burst=False, comment_token="t" * 16,
        ))
        if key is not None:
            record = replace(record, seal=seal_record(key, record))
            key = next_key(key)
        records.append(record)
        prev = record.hash
    return records


def paired_device(registry: DeviceRegistry, device_id: str) -> str:
    """Pair a device through the registry; its secret."""
    code = registry.request_code(device_id, "bench", "0.1.0")
    registry.decide(code.user_code, approve=True)
    return registry.poll(code.device_code)["device_secret"]


def _signed(device_id: str, secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", DEVICE_HEADER: device_id, SIGNATURE_HEADER: sign(secret, body)}


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds a process has used so far (user and system, all its
    threads), from Linux's /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Rates:
    """A side's runs: ratings (or rows) per second, and CPU microseconds per
    rating (or row) where it could be read."""

    per_s: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def add(self, count: int, elapsed_s: float, cpu_s: float | None) -> None:
        self.per_s.append(count / elapsed_s)
        if cpu_s is not None:
            self.cpu_us.append(cpu_s / count * 1e6)


def sealed_uploads(batch_size: int, ratings: int, url: str, registry: DeviceRegistry,
                   session: requests.Session) -> list[tuple[bytes, dict[str, str]]]:
    """A new device, paired and its sealing key registered through ``session``,
    with ``ratings`` sealed ratings ready to upload: each batch's body and
    signed headers (signing is the tablet's work, not the server's: done
    before any clock starts)."""
    device_id = f"bench-{batch_size}-{uuid.uuid4().hex[:6]}"
    secret = paired_device(registry, device_id)
    key = new_key()
    registration = json.dumps(wire.to_wire(wire.SealKeyRequest(device_id=device_id, first_seq=1,
                                                               key=key.hex()))).encode("utf-8")
    answer = session.post(f"{url}{API_PREFIX}/seal-key", data=registration, timeout=60,
                          headers=_signed(device_id, secret, registration))
    assert answer.status_code == 200, answer.text
    records = make_chain(device_id, ratings, key)
    # Sent a millisecond after the last record was made, on both clocks.
    sent_at = device_time(datetime.fromisoformat(records[-1].device_time), 1)
    uploads = []
    for i in range(0, len(records), batch_size):
        body = build_batch_body(Batch(uuid.uuid4().hex, tuple(records[i:i + batch_size])), device_id,
                                sent_at=sent_at, sent_monotonic_ns=(len(records) + 1) * 1_000_000,
                                boot_id="bench-boot", app_version="0.1.0", pending=0)
        uploads.append((body, _signed(device_id, secret, body)))
    return uploads


def upload(session: requests.Session, url: str, uploads: list[tuple[bytes, dict[str, str]]],
           waits: list[float] | None = None, beside: Callable[[int], None] | None = None) -> float:
    """Send the batches one after another, each answer checked: every record
    stored, none flagged. How long each answer took is added to ``waits``;
    ``beside(n)`` is called after the answer to batch ``n``, off the clock.
    The time spent sending and reading answers."""
    spent = 0.0
    for number, (body, headers) in enumerate(uploads):
        sent = time.perf_counter()
        answer = session.post(f"{url}{API_PREFIX}/batches", data=body, timeout=60, headers=headers)
        # Read with orjson: this client's time adds to the server's (one
        # request at a time), and the raw baseline has none.
        result = orjson.loads(answer.content)
        took = time.perf_counter() - sent
        spent += took
        if waits is not None:
            waits.append(took)
        assert answer.status_code == 200, answer.text
        assert result["counts"]["stored"] == len(result["results"])
        assert not any(r["flags"] for r in result["results"]), result["results"][0]
        if beside is not None:
            beside(number)
    return spent


def run(batch_size: int, ratings: int, url: str, registry: DeviceRegistry, server_pid: int | None = None,
        rates: Rates | None = None, beside: Callable[[int], None] | None = None) -> None:
    """One measurement: a new device uploads ``ratings`` sealed ratings,
    added to ``rates`` (with the CPU the server process ``server_pid`` spent
    on them); ``beside(n)`` runs after batch ``n``'s answer, off the clock."""
    with requests.Session() as session:
        uploads = sealed_uploads(batch_size, ratings, url, registry, session)
        cpu_before = process_cpu_s(server_pid) if server_pid else None
        elapsed = upload(session, url, uploads, beside=beside)
        cpu_after = process_cpu_s(server_pid) if server_pid else None
    if rates is not None:
        rates.add(ratings, elapsed, cpu_after - cpu_before if cpu_before is not None and cpu_after is not None
                  else None)


def several_at_once(tablets: int, batch_size: int, ratings: int, url: str, registry: DeviceRegistry) -> None:
    """``tablets`` new devices each upload ``ratings`` sealed ratings at the
    same time, one batch at a time each, as the tablets of a busy commune
    do: the ratings stored per second, and how long a tablet waited for an
    answer (the median and the slowest). Printed; no target."""
    sessions = [requests.Session() for _ in range(tablets)]
    uploads = [sealed_uploads(batch_size, ratings, url, registry, session) for session in sessions]
    waits: list[float] = []
    failures: list[BaseException] = []

    def one_tablet(session: requests.Session, batches: list[tuple[bytes, dict[str, str]]]) -> None:
        try:
            upload(session, url, batches, waits)
        except BaseException as exc:  # told in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=one_tablet, args=pair) for pair in zip(sessions, uploads, strict=True)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    if failures:
        raise failures[0]
    waits.sort()
    print(f"ingest, {tablets} tablets at once, batches of {batch_size}: {tablets * ratings / elapsed:6.0f} ratings/s; "
          f"a tablet waited {statistics.median(waits) * 1000:.0f} ms for an answer (median), "
          f"{waits[-1] * 1000:.0f} ms at most (no target: how several tablets share the server)", flush=True)


def raw_rows(ratings: int, run_number: int) -> tuple[list[str], list[list[object]]]:
    """The ``records`` rows the ingest would store for ``ratings`` sealed
    ratings of a device of their own: the column names, and each row's values."""
    device_id = f"raw-bench-{run_number}"
    corrected = CorrectedTime(datetime(2026, 3, 2, 1, 0, tzinfo=UTC), "offset", 0.0)
    rows = [stored_batches.record_row(1, Outcome(0, RecordStatus.STORED, r.uuid, r.seq, record=r, placed=corrected), ())
            for r in make_chain(device_id, ratings, new_key())]
    columns = list(rows[0])
    return columns, [[row[c] for c in columns] for row in rows]


class RawBaseline:
    """The same ratings' rows, as the ingest stores them, written straight
    into a database made with the server's tables and indexes (and growing
    run after run as the server's does), one batch and one commit at a time
    (:meth:`insert`), timed; each database's way of writing them is a
    subclass's :meth:`_write`."""

    cpu_timed = True
    """Whether this thread's CPU tells the baseline's (not when the database
    works in processes of its own)."""

    def __init__(self, batch_size: int, run_number: int, *, ratings: int):
        self.batch_size = batch_size
        self.ratings = ratings
        self.columns, self.values = raw_rows(ratings, run_number)
        self.elapsed = self.cpu = 0.0

    def insert(self, number: int) -> None:
        """Write batch ``number`` (of ``batch_size`` rows) and commit it."""
        rows = self.values[number * self.batch_size:(number + 1) * self.batch_size]
        cpu, started = time.thread_time(), time.perf_counter()
        self._write(rows)
        self.elapsed += time.perf_counter() - started
        self.cpu += time.thread_time() - cpu

    def _write(self, rows: list[list[object]]) -> None:
        raise NotImplementedError

    def finish(self, rates: Rates) -> None:
        """Close the connection; the run's rate (and CPU) added to ``rates``."""
        self.close()
        rates.add(self.ratings, self.elapsed, self.cpu if self.cpu_timed else None)

    def close(self) -> None:
        raise NotImplementedError


class RawInsert(RawBaseline):
    """The raw baseline on SQLite: plain sqlite3 into ``db``, set up as the
    server sets up its connections, one ``executemany`` per batch."""

    def __init__(self, batch_size: int, run_number: int, *, ratings: int, db: Path):
        if not db.exists():
            open_engine(db).dispose()  # the server's schema, indexes included
        super().__init__(batch_size, run_number, ratings=ratings)
        columns = self.columns
        self.sql = f"INSERT INTO records ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.raw = sqlite3.connect(db, isolation_level=None)
        for setting in SQLITE_SETTINGS:  # the server's own: WAL, synchronous=FULL, its checkpoint threshold
            self.raw.execute(f"PRAGMA {setting}")

    def _write(self, rows: list[list[object]]) -> None:
        self.raw.execute("BEGIN IMMEDIATE")
        self.raw.executemany(self.sql, rows)
        self.raw.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


@contextmanager
def server_process(db: Path):
    """``python -m server`` on a free loopback port until the block ends; its base URL and process id."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "server", "--db", str(db), "--port", str(port)],
                               cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}{API_PREFIX}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


class RawCopy(RawBaseline):
    """The raw baseline on PostgreSQL: the rows COPYed with psycopg into the
    database at ``url``, one COPY per batch, without a CPU time
    (PostgreSQL's work is done in its own processes)."""

    cpu_timed = False

    def __init__(self, batch_size: int, run_number: int, *, ratings: int, url: str):
        import psycopg

        open_engine(url).dispose()  # the server's schema, indexes included (kept when it exists)
        super().__init__(batch_size, run_number, ratings=ratings)
        self.sql = f"COPY records ({', '.join(self.columns)}) FROM STDIN"
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.raw = psycopg.connect(conninfo, autocommit=True)

    def _write(self, rows: list[list[object]]) -> None:
        with self.raw.transaction(), self.raw.cursor() as cursor, cursor.copy(self.sql) as copy:
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self.raw.close()


@contextmanager
def scratch_database(base_url: str):
    """A new, empty database on the PostgreSQL server of ``base_url`` for the
    block; its URL. Dropped afterwards."""
    base = make_url(base_url)
    name = f"hailong_bench_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def measure(batch_size: int, args: argparse.Namespace, served_db: str | Path,
            raw_run: Callable[[int, int], RawBaseline]) -> tuple[Rates, Rates]:
    """Runs of the server on ``served_db``, each batch followed by the same
    batch's raw insert (``raw_run(batch_size, run_number)``); both sides' rates."""
    engine = open_engine(served_db)
    served, raw = Rates(), Rates()
    with server_process(served_db) as (url, pid):
        # Devices are paired straight in the shared database, as the CLI's approval does.
        registry = DeviceRegistry(engine)
        # One small unmeasured upload, so first-request costs (compiling
        # queries, building validators) are not charged to the first run.
        run(100, 200, url, registry)
        for number in range(args.runs):
            # Batch by batch, in turn: both sides meet the same moments of a
            # shared machine (a neighbour's load, a slow fsync come and go
            # within seconds, and moved whole runs' figures by half).
            inserts = raw_run(batch_size, number)
            run(batch_size, args.ratings, url, registry, pid, served, beside=inserts.insert)
            inserts.finish(raw)
    engine.dispose()
    return served, raw


def report(what: str, batch_size: int, served: Rates, raw: Rates, baseline_name: str,
           args: argparse.Namespace, conditions: str, *, target: bool) -> None:
    """The median rate beside the raw baseline's, the share (the median of
    the runs' shares: each run's two sides met the same moments), and the
    verdict when a target applies; then, where both sides' CPU could be
    read, the CPU each spent per rating (steadier than the rates on a shared
    machine, where a neighbour's load or a slow fsync moves them)."""
    shares = sorted(ours / theirs for ours, theirs in zip(served.per_s, raw.per_s, strict=True))
    rates, raw_rates = sorted(served.per_s), sorted(raw.per_s)
    median, baseline = statistics.median(rates), statistics.median(raw_rates)
    share = statistics.median(shares)
    verdict = (f"target ≥ {TARGET_SHARE:.0%}: {'met' if share >= TARGET_SHARE else 'MISSED'}" if target
               else "no target on PostgreSQL")
    print(f"{what}, batches of {batch_size:>5}: median {median:6.0f} ratings/s "
          f"(runs {rates[0]:.0f}–{rates[-1]:.0f}); {baseline_name} of the same rows "
          f"{baseline:6.0f} rows/s (runs {raw_rates[0]:.0f}–{raw_rates[-1]:.0f}); "
          f"{share:.0%} of raw (runs {shares[0]:.0%}–{shares[-1]:.0%}), {verdict} "
          f"({args.runs} × {args.ratings} ratings, loopback HTTP, {conditions})", flush=True)
    if served.cpu_us and raw.cpu_us:
        cpu, raw_cpu = statistics.median(served.cpu_us), statistics.median(raw.cpu_us)
        print(f"    CPU per rating, batches of {batch_size:>5}: the server process {cpu:5.1f} µs "
              f"(runs {min(served.cpu_us):.1f}–{max(served.cpu_us):.1f}), the raw insert {raw_cpu:5.1f} µs a row "
              f"(runs {min(raw.cpu_us):.1f}–{max(raw.cpu_us):.1f}): ×{cpu / raw_cpu:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=20_000, help="ratings per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per batch size; the median is reported")
    parser.add_argument("--postgres", action="store_true",
                        help="measure on the PostgreSQL server of $HAILONG_TEST_DATABASE_URL instead of SQLite "
                             "(make bench-postgres starts a throwaway one)")
    args = parser.parse_args()
    if args.postgres:
        base_url = os.environ.get("HAILONG_TEST_DATABASE_URL")
        if not base_url:
            sys.exit("--postgres needs HAILONG_TEST_DATABASE_URL: the URL of a PostgreSQL server that may "
                     "create databases (make bench-postgres starts one)")
        for batch_size in BATCH_SIZES:
            with scratch_database(base_url) as served_url, scratch_database(base_url) as raw_url:
                served, raw = measure(batch_size, args, served_url,
                                      partial(RawCopy, ratings=args.ratings, url=raw_url))
            report("ingest on PostgreSQL", batch_size, served, raw, "raw PostgreSQL COPY", args,
                   "one COPY per batch", target=False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size in BATCH_SIZES:
            # A new server and a new raw database per batch size: both grow
            # alike over the runs, so their indexes are the same size.
            served, raw = measure(batch_size, args, Path(tmp) / f"served-{batch_size}.db",
                                  partial(RawInsert, ratings=args.ratings, db=Path(tmp) / f"raw-{batch_size}.db"))
            report("ingest", batch_size, served, raw, "raw SQLite bulk insert", args,
                   "both with the server's SQLite settings: " + ", ".join(SQLITE_SETTINGS),
                   target=True)
        db = Path(tmp) / "several.db"
        engine = open_engine(db)
        with server_process(db) as (url, _pid):
            run(100, 200, url, DeviceRegistry(engine))  # first-request costs, as above
            several_at_once(4, 500, args.ratings // 4, url, DeviceRegistry(engine))
        engine.dispose()


if __name__ == "__main__":
    main()
