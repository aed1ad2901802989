"""Small charts for the officer's day: ratings per day, and the day's distribution."""

from __future__ import annotations

from kivy.graphics import Color, Line, Rectangle
from kivy.properties import ColorProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget


class DayChart(Widget):
    """Bars: ratings per day (scaled to the busiest day). Dots joined by a line:
    that day's satisfaction rate (0 to 100 %); days without ratings have no dot."""

    points = ListProperty([])
    """``(count, rate or None)`` per day, oldest first."""

    unit = NumericProperty(8.0)
    """The app's size unit, for line widths."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(points=self._redraw, pos=self._redraw, size=self._redraw)

    def _redraw(self, *_args) -> None:
        # The number of bars changes with the data, so the canvas is built
        # here rather than in kv.
        self.canvas.clear()
        if not self.points:
            return
        busiest = max(1, max(count for count, _ in self.points))
        slot = self.width / len(self.points)
        bar = max(1.0, slot * 0.7)
        rate_line = []
        with self.canvas:
            Color(0.8, 0.8, 0.78, 1)
            Line(points=[self.x, self.y, self.right, self.y], width=1)
            Color(0.07, 0.45, 0.55, 0.55)
            for i, (count, rate) in enumerate(self.points):
                x = self.x + i * slot + (slot - bar) / 2
                Rectangle(pos=(x, self.y), size=(bar, self.height * 0.9 * count / busiest))
                if rate is not None:
                    rate_line += [x + bar / 2, self.y + self.height * 0.9 * rate]
            Color(0.13, 0.59, 0.25, 1)
            if len(rate_line) >= 4:
                Line(points=rate_line, width=max(1.0, self.unit * 0.25))
            for i in range(0, len(rate_line), 2):
                d = self.unit * 1.2
                Line(circle=(rate_line[i], rate_line[i + 1], d / 2), width=max(1.0, self.unit * 0.25))


class LevelBar(BoxLayout):
    """One level of a day's distribution: its words, a bar, the count."""

    label = StringProperty("")
    """The level's words."""

    count = NumericProperty(0)
    """Ratings at this level."""

    share = NumericProperty(0.0)
    """``count`` as a share of the day's ratings, 0 to 1."""

    colour = ColorProperty((0.5, 0.5, 0.5, 1))
    """The level's colour."""
