"""Drive the real kiosk without a screen: the app is built in an offscreen
window, frames are advanced by hand, and touches are simulated on the widgets
a person would tap. Used by the tests, the tour and the benchmarks.

Call :func:`configure` before anything imports Kivy.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["configure", "HeadlessKiosk"]


def configure(kivy_home: str | None = None) -> None:
    """Set the environment Kivy reads at import time for a headless run."""
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # sounds play, silently, to no device
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ.setdefault("KIVY_HOME", kivy_home or tempfile.mkdtemp(prefix="hailong-kivy-"))
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")


class HeadlessKiosk:
    """The kiosk app running in the offscreen window, one frame at a time."""

    def __init__(self, settings, *, size: tuple[int, int] = (1280, 800), store=None, clock=None):
        from kivy.base import EventLoop
        from kivy.core.window import Window

        from kiosk.app import KioskApp

        EventLoop.ensure_window()
        self.window = Window
        # Sized before the app is built, as App.run finds its window: no
        # frame is drawn until the app's first (the bare window's start in
        # bench/cold_start.py is timed alike).
        self.window.size = size
        self.app = KioskApp(settings, store=store, clock=clock)
        self._closed = False
        self.app._run_prepare()  # build, show, on_start: what App.run does before its loop
        self.pump(3)

    # -- time -------------------------------------------------------------------

    def pump(self, frames: int = 1) -> None:
        """Advance the event loop by whole frames (clock, input, drawing)."""
        from kivy.base import EventLoop

        for _ in range(frames):
            EventLoop.idle()

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of real time pass, frame by frame."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Advance frames until ``condition()`` holds; False if it never did."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            self.pump()
        return condition()

    # -- touches ----------------------------------------------------------------

    def tap(self, widget, frames: int = 2) -> None:
        """A finger down and up at the middle of ``widget``."""
        from kivy.tests.common import UnitTestTouch

        self.settle()
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump()
        touch.touch_up()
        self.pump(frames)
        # In a list that scrolls, Kivy's ScrollView hands the tap to what it
        # holds 0.2 s after the finger lifts (it waits to tell a tap from a
        # scroll): wait for that too, as a person does, so the tap is over
        # before the next step (or the next app) runs.
        end = time.monotonic() + 2.0
        while touch.grab_list and time.monotonic() < end:
            self.pump()

    def settle(self, max_frames: int = 10) -> None:
        """Let what just changed be shown, as a person sees it before tapping:
        one frame lays out widgets added since the last (until then they sit
        at the origin, and a tap aimed at one lands elsewhere), then a screen
        change finishes (the screen manager ignores touches while a
        transition, even an instant one, is still under way)."""
        from kivy.uix.screenmanager import ScreenManager

        self.pump()
        for _ in range(max_frames):
            managers = [self.app.root] + [w for w in self.screen.walk() if isinstance(w, ScreenManager)]
            if not any(m.transition.is_active for m in managers):
                return
            self.pump()

    def long_press(self, widget, seconds: float) -> None:
        """Hold a finger on ``widget`` for ``seconds``."""
        from kivy.clock import Clock
        from kivy.tests.common import UnitTestTouch

        self.settle()
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump()  # the frame that delivers the finger: the hold is timed from its tick
        # Held for ``seconds`` of the Kivy clock, not only of the wall: on a loaded
        # machine frames are slow, and a timer fires only at a tick past its time.
        start = Clock.get_time()
        end = time.monotonic() + seconds
        while time.monotonic() < end or Clock.get_time() - start < seconds:
            self.pump()
        touch.touch_up()
        self.pump(2)

    def type_digits(self, keypad, digits: str) -> None:
        """Tap the keys of a :class:`kiosk.widgets.keypad.Keypad`."""
        keys = {child.text: child for child in keypad.children if hasattr(child, "text")}
        for digit in digits:
            self.tap(keys[digit], frames=1)

    # -- the screen ---------------------------------------------------------------

    @property
    def screen(self):
        """The screen showing now."""
        return self.app.root.current_screen

    def resize(self, size: tuple[int, int]) -> None:
        """Give the window a new size (an orientation change)."""
        self.window.size = size
        self.pump(3)

    def screenshot(self, path: str | Path) -> Path:
        """Save what the window shows now as a PNG."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pump(2)
        self.app.root.export_to_png(str(path))
        return path

    def close(self) -> None:
        """Stop the app and leave the window empty for the next one (once:
        closing again does nothing)."""
        from kivy.app import App
        from kivy.base import EventLoop
        from kivy.lang.parser import global_idmap

        if self._closed:
            return
        self._closed = True
        app = self.app
        for screen in app.root.screens:
            screen._cancel_timer()
        running = App._running_app
        if running is app:  # not already stopped by the technician's "exit"
            app.dispatch("on_stop")
            running = None
        if app.root in self.window.children:
            self.window.remove_widget(app.root)
        # App.stop() asks a main loop we never started to stop; forget it.
        EventLoop.stopping = False
        # The frame that empties the window also runs what the app's widgets
        # still had scheduled (a label's texture update re-evaluates kv rules
        # that read `app`): run it while `app` is still this one. Reading it
        # binds kv's `app` proxy to this app again: unbind it after, so the
        # next app's rules read the next app.
        App._running_app = app
        try:
            self.pump(1)
        finally:
            App._running_app = running
            object.__setattr__(global_idmap["app"], "_obj", None)
        for screen in app.root.screens:  # a transition finished in that frame restarts its screen's timer
            screen._cancel_timer()
        app.store.close()
        # The app froze its objects out of the collector's view (one app runs
        # for the life of a tablet); here many run in one process, one after
        # another: give the finished one back, so that its cycles are freed.
        gc.unfreeze()
