"""Frame times around a tap, on the real app, headless.

Prints the longest and median frame while ratings are recorded (each tap:
the face is pressed, the rating committed to SQLite with a full sync, and the
next screen laid out). Target: no frame over 33 ms around a tap.

    python bench/frames.py [--taps 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.headless import configure  # noqa: E402

configure()


def _hanging_server(settings) -> str:
    """A loopback listener that never answers, and this tablet paired with it."""
    import socket
    import threading

    from kiosk.link.credentials import DeviceCredentials, save_credentials
    from kiosk.store import Store

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []

    def accept_forever() -> None:
        while True:
            conn, _ = listener.accept()
            held.append(conn)  # keep it open, say nothing

    threading.Thread(target=accept_forever, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    store = Store(settings.database)
    credentials = DeviceCredentials(store.device_id, "0" * 64, url, "2026-01-01T00:00:00+00:00")
    save_credentials(store.device_secret_path, credentials)
    store.close()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--size", default="1280x800")
    parser.add_argument(
        "--hanging-server", action="store_true",
        help="pair the tablet with a loopback server that accepts connections and never answers, "
        "so the uploader is stuck in a request the whole time",
    )
    args = parser.parse_args()

    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    from kiosk.config import AttributionMode, load_settings
    from kiosk.headless import HeadlessKiosk

    root = Path(__file__).resolve().parents[1]
    settings = load_settings(root / "config.yaml")
    settings = dataclasses.replace(
        settings, mode=AttributionMode.COUNTER, reasons_on_high=False,
        database=Path(tempfile.mkdtemp(prefix="hailong-bench-")) / "bench.db",
    )
    width, height = (int(v) for v in args.size.split("x"))
    hang = _hanging_server(settings) if args.hanging_server else None
    if hang is not None:
        settings = dataclasses.replace(settings, server_url=hang)
    kiosk = HeadlessKiosk(settings, size=(width, height))
    kiosk.app.desk.sign_in(settings.officers[0].id)
    kiosk.app.visits.go_idle()
    kiosk.pump(5)

    frames: list[float] = []
    tap_frames: list[float] = []
    handlers: list[float] = []

    def timed(call):
        def run():
            start = time.perf_counter()
            call()
            handlers.append(time.perf_counter() - start)
        return run

    def frame(before=None) -> float:
        # Input handlers run inside the frame in a real run: time them with it.
        start = time.perf_counter()
        if before is not None:
            before()
        EventLoop.idle()
        took = time.perf_counter() - start
        frames.append(took)
        return took

    for _ in range(args.taps):
        kiosk.settle()
        face = kiosk.screen.faces()[0]
        x, y = face.to_window(*face.center)
        touch = UnitTestTouch(x, y)
        frame(touch.touch_down)
        tap_frames.append(frame(timed(touch.touch_up)))  # the rating is committed in this frame
        frame()
        kiosk.app.visits.go_idle()
        frame()
    kiosk.close()

    ms = sorted(f * 1000 for f in frames)
    tap_ms = sorted(f * 1000 for f in tap_frames)
    where = f", uploader stuck on {hang}" if hang else ""
    print(f"frames measured        {len(ms)} ({args.taps} taps, {width}x{height}, offscreen{where})")
    print(f"median frame           {statistics.median(ms):6.2f} ms")
    print(f"longest frame          {ms[-1]:6.2f} ms   (target < 33 ms)")
    print(f"tap frame, median      {statistics.median(tap_ms):6.2f} ms")
    print(f"tap frame, longest     {tap_ms[-1]:6.2f} ms")
    hand = sorted(h * 1000 for h in handlers)
    print(f"tap handler, median    {statistics.median(hand):6.2f} ms   (commit + screen change, without drawing)")
    print(f"tap handler, longest   {hand[-1]:6.2f} ms")
    print("Drawing here is done by a software rasteriser; on a tablet's GPU the")
    print("frame is closer to the handler time plus a few milliseconds.")


if __name__ == "__main__":
    main()
