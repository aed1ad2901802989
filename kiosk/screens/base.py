"""What every kiosk screen shares: going back to idle by itself after a
timeout, restarted by every touch."""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import NumericProperty
from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """A screen that times out. ``timeout_s`` of 0 means it stays."""

    timeout_s = NumericProperty(0)
    """Seconds without a touch before :meth:`on_timeout` runs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._timer = None

    def on_enter(self, *_args) -> None:
        self.restart_timer()

    def on_leave(self, *_args) -> None:
        self._cancel_timer()

    def restart_timer(self) -> None:
        self._cancel_timer()
        if self.timeout_s > 0:
            self._timer = Clock.schedule_once(self._fire, self.timeout_s)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, _dt: float) -> None:
        self._timer = None
        if self.manager is not None and self.manager.current_screen is self:
            self.on_timeout()

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos):
            self.restart_timer()
        return super().on_touch_down(touch)

    def on_timeout(self) -> None:
        """What happens when nobody touched the screen for ``timeout_s``:
        by default the visit ends, keeping whatever was tapped."""
        App.get_running_app().visits.end_visit()
