"""Frame times around a tap, on the real app, headless, beside baselines
measured in the same run.

Prints the longest and median frame while ratings are recorded (each tap:
the face is pressed, the rating committed to SQLite with a full sync, and the
next screen laid out), and the tap handler's time. Each figure is printed
beside its baseline, so that a busy machine slows both alike:

* frames: a bare Kivy app in the same window (two screens with a label and a
  button, switched by a tap), the same number of frames;
* the tap handler: a raw SQLite insert of one row and its commit, WAL and
  ``synchronous=FULL``, on the same file system, timed between the same two
  frames as each tap's own commit.

Frames are timed without Kivy's frame-rate cap (``maxfps 0``): the sleep that
holds a real window to 60 frames a second is waiting, not work.

Targets: no frame over 33 ms; the tap handler's median at most 2 ms.

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

from kivy.config import Config  # noqa: E402

Config.set("graphics", "maxfps", "0")

TARGET_FRAME_MS = 33.0
TARGET_HANDLER_MS = 2.0


def bare_kivy_frames(taps: int, size: tuple[int, int]) -> list[tuple[float, float]]:
    """Frame times of a bare Kivy app, two screens switched by a tap on a
    button: ``(wall, cpu)`` seconds per frame."""
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from kivy.tests.common import UnitTestTouch
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

    EventLoop.ensure_window()
    Window.size = size
    manager = ScreenManager(transition=NoTransition())
    for name in ("a", "b"):
        screen = Screen(name=name)
        box = BoxLayout(orientation="vertical")
        box.add_widget(Label(text=f"screen {name}", font_size=40))
        button = Button(text="tap")
        button.bind(on_release=lambda _b, other="b" if name == "a" else "a": setattr(manager, "current", other))
        box.add_widget(button)
        screen.add_widget(box)
        manager.add_widget(screen)
    Window.add_widget(manager)
    for _ in range(5):
        EventLoop.idle()
    frames: list[tuple[float, float]] = []

    def frame(before=None) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        if before is not None:
            before()
        EventLoop.idle()
        frames.append((time.perf_counter() - start, time.process_time() - cpu))

    for _ in range(taps):
        button = manager.current_screen.children[0].children[0]
        x, y = button.to_window(*button.center)
        touch = UnitTestTouch(x, y)
        frame(touch.touch_down)
        frame(touch.touch_up)
        frame()
        frame()
    Window.remove_widget(manager)
    EventLoop.idle()
    return frames


class RawSqlite:
    """The baseline of a commit: a raw SQLite insert of a record-sized row and
    its commit (WAL, synchronous=FULL), on the same file system. It is timed
    between the kiosk's frames, next to each tap, so that it meets the same
    disk and the same busy cores (the software rasteriser's threads) as the
    tap's own commit."""

    def __init__(self, folder: Path):
        import os
        import sqlite3

        self.db = sqlite3.connect(folder / "raw.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        self.body = os.urandom(400)
        self.times: list[float] = []

    def commit(self) -> None:
        start = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO t (body) VALUES (?)", (self.body,))
        self.db.execute("COMMIT")
        self.times.append(time.perf_counter() - start)

    def close(self) -> None:
        self.db.close()


class CollectionWatch:
    """Times the garbage collector's passes (a full pass over a big heap is a
    long frame of its own; the app keeps its long-lived objects out of them)."""

    def __init__(self) -> None:
        self.passes: list[tuple[int, float]] = []
        self._began = 0.0

    def _on_pass(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.passes.append((info["generation"], (time.perf_counter() - self._began) * 1000))

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._on_pass)

    def stop(self) -> None:
        import gc

        gc.callbacks.remove(self._on_pass)

    def summary(self) -> str:
        full = [ms for generation, ms in self.passes if generation == 2]
        longest = max((ms for _g, ms in self.passes), default=0.0)
        return f"{len(self.passes)} passes, {len(full)} full, the longest {longest:.1f} ms"


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
    bare = bare_kivy_frames(args.taps, (width, height))
    raw = RawSqlite(settings.database.parent)
    hang = _hanging_server(settings) if args.hanging_server else None
    if hang is not None:
        settings = dataclasses.replace(settings, server_url=hang)
    kiosk = HeadlessKiosk(settings, size=(width, height))
    kiosk.app.desk.sign_in(settings.officers[0].id)
    kiosk.app.visits.go_idle()
    # The screens not needed at start are built in the frames after it, one
    # per frame, once, while the counter is at rest: timed apart.
    building: list[float] = []
    # What each of those frames did and its CPU time: a frame much longer in
    # wall time than in CPU time waited (for the disk, or for a busy machine).
    building_cpu: list[float] = []
    building_what: list[str] = []
    built = set(kiosk.app.root.screen_names)
    deadline = time.monotonic() + 30
    while not kiosk.app.root.complete and time.monotonic() < deadline:
        start, start_cpu = time.perf_counter(), time.thread_time()
        EventLoop.idle()
        building.append(time.perf_counter() - start)
        building_cpu.append(time.thread_time() - start_cpu)
        now = set(kiosk.app.root.screen_names)
        building_what.append(", ".join(sorted(now - built)) or
                             ("the first after the sign-in" if len(building) == 1 else "no screen built"))
        built = now
    kiosk.pump(5)

    collections = CollectionWatch()
    frames: list[tuple[float, float]] = []
    tap_frames: list[tuple[float, float]] = []
    handlers: list[float] = []
    commits: list[float] = []

    # The commit inside the handler, timed on its own: the disk's share.
    rate = kiosk.app.desk.rate

    def timed_rate(*args, **kwargs):
        start = time.perf_counter()
        try:
            return rate(*args, **kwargs)
        finally:
            commits.append(time.perf_counter() - start)

    kiosk.app.desk.rate = timed_rate

    def timed(call):
        def run():
            start = time.perf_counter()
            call()
            handlers.append(time.perf_counter() - start)
        return run

    kinds: list[str] = []

    def frame(before=None, kind: str = "") -> tuple[float, float]:
        # Input handlers run inside the frame in a real run: time them with it.
        # Wall time, and the process's CPU time (which leaves out the time
        # the process waited for a core or the disk).
        start, cpu = time.perf_counter(), time.process_time()
        if before is not None:
            before()
        EventLoop.idle()
        took = (time.perf_counter() - start, time.process_time() - cpu)
        frames.append(took)
        kinds.append(kind)
        return took

    collections.start()
    for _ in range(args.taps):
        kiosk.settle()
        face = kiosk.screen.faces()[0]
        x, y = face.to_window(*face.center)
        touch = UnitTestTouch(x, y)
        frame(touch.touch_down, "finger down")
        raw.commit()  # the baseline, between the same two frames as the tap's commit
        tap_frames.append(frame(timed(touch.touch_up), "finger up, rating committed"))
        frame(kind="next screen drawn")
        kiosk.app.visits.go_idle()
        frame(kind="idle screen drawn again")
    collections.stop()
    kiosk.close()

    def ms(values) -> list[float]:
        return sorted(v * 1000 for v in values)

    wall, cpu = ms(f[0] for f in frames), ms(f[1] for f in frames)
    bare_wall, bare_cpu = ms(f[0] for f in bare), ms(f[1] for f in bare)
    tap_wall = ms(f[0] for f in tap_frames)
    raw.close()
    hand, commit, raw_ms = ms(handlers), ms(commits), ms(raw.times)
    where = f", uploader stuck on {hang}" if hang else ""

    def row(name: str, value: float, base: float, note: str = "") -> None:
        ratio = f"x{value / base:6.1f}" if base else "      "
        print(f"  {name:28s} {value:8.2f} ms   {base:8.2f} ms   {ratio}   {note}")

    def verdict(value: float, target: float) -> str:
        return f"{'meets' if value <= target else 'MISSES'} target <= {target:g} ms"

    print(f"frames around a tap: {len(wall)} frames ({args.taps} taps, {width}x{height}, offscreen, maxfps 0{where})")
    print(f"  {'figure':28s} {'kiosk':>11s}   {'baseline':>11s}   ratio")
    print("  -- baseline: a bare Kivy app, two screens switched by a tap, same window, same run")
    row("median frame, wall", statistics.median(wall), statistics.median(bare_wall))
    row("longest frame, wall", wall[-1], bare_wall[-1], verdict(wall[-1], TARGET_FRAME_MS))
    row("longest frame, CPU", cpu[-1], bare_cpu[-1], verdict(cpu[-1], TARGET_FRAME_MS) + " (waits left out)")
    worst = max(range(len(frames)), key=lambda i: frames[i][1])
    print(f"  {'':28s} the longest by CPU: {kinds[worst]}")
    row("tap frame, median, wall", statistics.median(tap_wall), statistics.median(bare_wall))
    print("  -- baseline: a raw SQLite insert and commit (WAL, synchronous=FULL), timed beside each tap")
    row("tap handler, median", statistics.median(hand), statistics.median(raw_ms),
        verdict(statistics.median(hand), TARGET_HANDLER_MS))
    row("  of which RatingDesk.rate", statistics.median(commit), statistics.median(raw_ms))
    others = statistics.median((h - c) * 1000 for h, c in zip(handlers, commits, strict=True))
    row("  the rest (screen change)", others, 0.0)
    row("tap handler, longest", hand[-1], raw_ms[-1])
    print(f"  -- the garbage collector during the taps: {collections.summary()}")
    build = sorted(b * 1000 for b in building)
    if build:
        print("  -- once after start, at rest: the citizen's screens not needed at start, one per frame")
        row("longest frame building them", build[-1], bare_wall[-1], "(not around a tap)")
        longest = max(range(len(building)), key=building.__getitem__)
        print(f"                               the longest: {building_what[longest]}, "
              f"{building_cpu[longest] * 1000:.1f} ms of CPU")
        whole = max(wall[-1], build[-1])
        row("longest frame, the whole run", whole, bare_wall[-1], verdict(whole, TARGET_FRAME_MS))
    print("Drawing here is done by a software rasteriser; on a tablet's GPU the")
    print("frame is closer to the handler time plus a few milliseconds.")


if __name__ == "__main__":
    main()
