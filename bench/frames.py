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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()

    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch

    from kiosk.config import load_settings
    from kiosk.headless import HeadlessKiosk

    root = Path(__file__).resolve().parents[1]
    settings = load_settings(root / "config.yaml")
    settings = dataclasses.replace(
        settings, mode="counter", reasons_on_high=False,
        database=Path(tempfile.mkdtemp(prefix="hailong-bench-")) / "bench.db",
    )
    width, height = (int(v) for v in args.size.split("x"))
    kiosk = HeadlessKiosk(settings, size=(width, height))
    kiosk.app.desk.sign_in(settings.officers[0].id)
    kiosk.app.go_idle()
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
        kiosk.app.go_idle()
        frame()
    kiosk.close()

    ms = sorted(f * 1000 for f in frames)
    tap_ms = sorted(f * 1000 for f in tap_frames)
    print(f"frames measured        {len(ms)} ({args.taps} taps, {width}x{height}, offscreen)")
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
