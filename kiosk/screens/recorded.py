"""The recorded screen: the face just tapped, large, with "Đã ghi nhận: <level>"
and, for the correction window, "Chọn lại" (a mis-tap can be put right once)."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty

from kiosk.screens.base import KioskScreen


class RecordedScreen(KioskScreen):
    """Shown right after a tap, for ``correction.window_s`` seconds; then the
    visit goes on (reasons or thanks) by itself. Touches do not stretch the
    window: it is the time the citizen has to change their mind."""

    level = StringProperty("")
    score = NumericProperty(0)
    colour = ColorProperty((0.5, 0.5, 0.5, 1))
    can_correct = BooleanProperty(False)
    """"Chọn lại" is offered (the window is open and nothing was corrected yet)."""

    def show_level(self, level, can_correct: bool) -> None:
        """Show ``level`` (a :class:`sync.scale.Level`) as the one recorded."""
        self.level, self.score, self.colour = level.key, level.score, (*level.colour, 1)
        self.can_correct = can_correct

    def on_touch_down(self, touch) -> bool:
        # Not KioskScreen's: a touch must not extend the window.
        return super(KioskScreen, self).on_touch_down(touch)

    def on_timeout(self) -> None:
        """The window is over: the button goes and the visit goes on."""
        self.can_correct = False
        App.get_running_app().visits.recorded_done()
