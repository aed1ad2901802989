"""The hidden entry for officers and technicians: a long press on an area that
looks like plain text to a citizen."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout


class LongPressArea(BoxLayout):
    """Dispatches ``on_long_press`` when held for ``hold_s`` seconds."""

    hold_s = NumericProperty(2.0)
    """How long the press must last."""

    __events__ = ("on_long_press",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pending = None

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos):
            touch.grab(self)
            self._pending = Clock.schedule_once(lambda _dt: self.dispatch("on_long_press"), self.hold_s)
            return True
        return super().on_touch_down(touch)

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            return True
        return super().on_touch_up(touch)

    def on_long_press(self) -> None:
        self._pending = None
