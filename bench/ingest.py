"""Server ingest rate: ratings per second stored by the commune server, over
loopback HTTP, in batches of 100 and of 1,000 (target: at least 5,000/s).

Each batch size is measured several times, each time with a new device and
its own chain; the median is the figure, with the slowest and fastest run
beside it (the fsync of every commit makes single runs vary a lot).

    python bench/ingest.py [--ratings 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.link.uploader import build_batch_body  # noqa: E402
from kiosk.store import Batch  # noqa: E402
from server.api import create_app  # noqa: E402
from server.registry import DeviceRegistry  # noqa: E402
from server.runner import BackgroundServer  # noqa: E402
from server.store import open_engine  # noqa: E402
from sync.protocol import API_PREFIX, DEVICE_HEADER, SIGNATURE_HEADER, sign  # noqa: E402
from sync.record import GENESIS_HASH, KIND_RATING, Record, seal  # noqa: E402


def make_chain(device_id: str, count: int) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        record = seal(Record(
            kind=KIND_RATING, uuid=str(uuid.uuid4()), device_id=device_id, seq=seq, prev_hash=prev,
            device_time="2026-03-02T08:00:00.000+07:00", monotonic_ns=seq * 1_000_000, boot_id="bench-boot",
            app_version="0.1.0", officer_id="nguyen-thi-lan", counter_id="quay-1", score=1 + seq % 3, scale=3,
            level="satisfied", burst=False, comment_token="t" * 16,
        ))
        records.append(record)
        prev = record.hash
    return records


def paired_device(registry: DeviceRegistry, device_id: str) -> str:
    code = registry.request_code(device_id, "bench", "0.1.0")
    registry.decide(code.user_code, approve=True)
    return registry.poll(code.device_code)["device_secret"]


TARGET_PER_S = 5_000


def run(batch_size: int, ratings: int, url: str, registry: DeviceRegistry) -> float:
    """One measurement: a new device uploads ``ratings`` ratings; ratings stored per second."""
    device_id = f"bench-{batch_size}-{uuid.uuid4().hex[:6]}"
    secret = paired_device(registry, device_id)
    records = make_chain(device_id, ratings)
    bodies = [
        build_batch_body(Batch(uuid.uuid4().hex, tuple(records[i:i + batch_size])), device_id,
                         sent_at="2026-03-02T08:00:00.000+07:00", sent_monotonic_ns=10**12, boot_id="bench-boot",
                         app_version="0.1.0", pending=0)
        for i in range(0, len(records), batch_size)
    ]
    # Signing is the tablet's work, not the server's: done before the clock starts.
    requests_to_send = [
        (body, {"Content-Type": "application/json", DEVICE_HEADER: device_id, SIGNATURE_HEADER: sign(secret, body)})
        for body in bodies
    ]
    session = requests.Session()
    started = time.perf_counter()
    for body, headers in requests_to_send:
        answer = session.post(f"{url}{API_PREFIX}/batches", data=body, timeout=60, headers=headers)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["counts"]["stored"] == len(result["results"])
    elapsed = time.perf_counter() - started
    session.close()
    return ratings / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ratings", type=int, default=20_000, help="ratings per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per batch size; the median is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(Path(tmp) / "bench.db")
        with BackgroundServer(create_app(engine)) as server:
            registry = DeviceRegistry(engine)
            # One small unmeasured upload, so first-request costs (compiling
            # queries, building validators) are not charged to the first run.
            run(100, 200, server.url, registry)
            for batch_size in (100, 1000):
                rates = sorted(run(batch_size, args.ratings, server.url, registry) for _ in range(args.runs))
                median = statistics.median(rates)
                verdict = "met" if median >= TARGET_PER_S else "MISSED"
                print(f"ingest, batches of {batch_size:>5}: median {median:6.0f} ratings/s "
                      f"(runs {rates[0]:.0f}–{rates[-1]:.0f}; {args.runs} × {args.ratings} ratings, "
                      f"loopback HTTP, SQLite synchronous=FULL); target ≥ {TARGET_PER_S}: {verdict}")
        engine.dispose()


if __name__ == "__main__":
    main()
