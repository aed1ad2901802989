"""What every kiosk screen shares: going back to idle by itself after a
timeout, restarted by every touch, and a countdown a screen may show."""

from __future__ import annotations

import math

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """A screen that times out. ``timeout_s`` of 0 means it stays."""

    compact_moves: tuple[tuple[str, str, str], ...] = ()
    """``(widget id, parent id when compact, parent id otherwise)``: widgets
    that change places on a short landscape screen (``app.compact``), such as
    the buttons under a keypad that would push it over the header band."""

    timeout_s = NumericProperty(0)
    """Seconds without a touch before :meth:`on_timeout` runs."""

    counts_down = BooleanProperty(False)
    """Keep :attr:`seconds_left` up to date while the screen shows."""

    seconds_left = NumericProperty(0)
    """Whole seconds until the timeout, for a visible countdown."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._timer = None
        self._ticker = None
        self._deadline = 0.0

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        app = App.get_running_app()
        if self.compact_moves and app is not None:
            app.bind(compact=self._place_for_size)
            self._place_for_size(app, app.compact)

    def _place_for_size(self, _app, compact: bool) -> None:
        for widget_id, compact_parent, parent in self.compact_moves:
            widget, target = self.ids[widget_id], self.ids[compact_parent if compact else parent]
            # ids hold weak proxies: compare the widgets by their uid.
            if widget.parent is None or widget.parent.uid != target.uid:
                widget.parent.remove_widget(widget)
                target.add_widget(widget)

    def spoken_prompt(self) -> str | None:
        """The prompt read aloud when the screen shows (see kiosk.voice), if any."""
        return None

    def on_enter(self, *_args) -> None:
        self.restart_timer()
        prompt = self.spoken_prompt()
        app = App.get_running_app()
        if prompt is not None and app is not None:
            app.voice.say(prompt, app.language)

    def on_leave(self, *_args) -> None:
        self._cancel_timer()
        prompt = self.spoken_prompt()
        app = App.get_running_app()
        if prompt is not None and app is not None:
            app.voice.stop(prompt)  # the words belonged to this screen

    def restart_timer(self) -> None:
        self._cancel_timer()
        if self.timeout_s > 0:
            self._deadline = Clock.get_boottime() + self.timeout_s
            self._timer = Clock.schedule_once(self._fire, self.timeout_s)
            self._tick()
            if self.counts_down and self._ticker is None and self.manager is not None \
                    and self.manager.current_screen is self:
                self._ticker = Clock.schedule_interval(self._tick, 0.25)

    def _tick(self, _dt: float = 0.0) -> None:
        if App.get_running_app() is None:  # the app stopped under a running countdown
            self._cancel_timer()
            return
        self.seconds_left = max(0, math.ceil(self._deadline - Clock.get_boottime()))
        if self.seconds_left == 0 and self._ticker is not None:
            # Nothing left to count (a touch starts it again).
            self._ticker.cancel()
            self._ticker = None

    def _cancel_timer(self) -> None:
        """Stop the timeout and the countdown (a touch or a new visit starts them again)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _fire(self, _dt: float) -> None:
        self._timer = None
        app = App.get_running_app()
        # Only the running app's own screen acts: on_timeout reaches the app
        # through get_running_app, and a stopped app's screen must not send
        # another one idle (tests run many apps in one process).
        if app is not None and self.manager is not None and app.root is self.manager \
                and self.manager.current_screen is self:
            self.on_timeout()

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos):
            self.restart_timer()
        return super().on_touch_down(touch)

    def on_timeout(self) -> None:
        """What happens when nobody touched the screen for ``timeout_s``:
        by default the visit ends, keeping whatever was tapped."""
        App.get_running_app().visits.end_visit()
