"""Time to drain a backlog of 10,000 ratings from a tablet to the commune
server over loopback, with the real uploader (target: under 10 s).

    python bench/drain.py [--ratings 10000] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.config import load_settings  # noqa: E402
from kiosk.desk import RatingDesk  # noqa: E402
from kiosk.link.credentials import DeviceCredentials, save_credentials  # noqa: E402
from kiosk.link.uploader import Uploader  # noqa: E402
from kiosk.store import Store  # noqa: E402
from server.api import create_app  # noqa: E402
from server.registry import DeviceRegistry  # noqa: E402
from server.runner import BackgroundServer  # noqa: E402
from server.store import open_engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        settings = load_settings(ROOT / "config.yaml")
        store = Store(tmp_path / "tablet.db")
        desk = RatingDesk(settings, store)
        # Building the backlog is not what is measured: skip the per-tap fsync.
        store.db.execute("PRAGMA synchronous=OFF")
        officers = [o.id for o in settings.active_officers]
        for i in range(args.ratings):
            desk.rate(officers[i % len(officers)], 1 + i % settings.scale)
        store.db.execute("PRAGMA synchronous=FULL")

        engine = open_engine(tmp_path / "server.db")
        with BackgroundServer(create_app(engine)) as server:
            registry = DeviceRegistry(engine)
            code = registry.request_code(store.device_id, "bench", "0.1.0")
            registry.decide(code.user_code, approve=True)
            secret = registry.poll(code.device_code)["device_secret"]
            save_credentials(store.device_secret_path,
                             DeviceCredentials(store.device_id, secret, server.url, "bench"))
            uploader = Uploader(store.path, server.url, batch_size=args.batch_size)
            started = time.perf_counter()
            status = uploader.run_once()
            elapsed = time.perf_counter() - started
        assert status.pending == 0, status
        print(f"drain: {args.ratings} ratings in {elapsed:.2f} s ({args.ratings / elapsed:.0f} ratings/s, "
              f"batches of {args.batch_size}, loopback, both databases synchronous=FULL)")
        store.close()
        engine.dispose()


if __name__ == "__main__":
    main()
