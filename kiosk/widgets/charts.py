"""Small charts for the officer's day: ratings per day with the satisfaction
rate, and the day's distribution."""

from __future__ import annotations

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import ColorProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

BAR = (0.07, 0.45, 0.55, 0.55)
RATE = (0.13, 0.59, 0.25, 1)
GRID = (0.85, 0.85, 0.83, 1)
TEXT = (0.20, 0.23, 0.27, 1)

RATE_TICKS = (0, 50, 100)
"""The satisfaction rate's axis, in percent."""


def date_label_every(days: int) -> int:
    """Every how many days a date is written under the bars (all of a week,
    every fifth of a month, and always the last day, today)."""
    return 1 if days <= 10 else 5


def percent(rate: float) -> str:
    """A rate as Vietnamese and English write it on a chart: ``83%``."""
    return f"{round(rate * 100)}%"


class DayChart(Widget):
    """Bars: ratings per day, each with its count above and its date below.
    Dots joined by a line: that day's satisfaction rate, read on the % axis at
    the left; days without ratings have no dot."""

    points = ListProperty([])
    """``(date, count, rate or None)`` per day, oldest first."""

    unit = NumericProperty(8.0)
    """The app's size unit, for type and line widths."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(points=self._redraw, pos=self._redraw, size=self._redraw, unit=self._redraw)

    def _text(self, text: str, size: float) -> CoreLabel:
        label = CoreLabel(text=text, font_size=size, color=TEXT)
        label.refresh()
        return label

    def labels(self) -> list[str]:
        """Every word drawn on the chart, for tests: axis ticks, counts, dates."""
        return [text for text, _ in self._drawn]

    def _put(self, text: str, size: float, x: float, y: float, anchor: str = "center") -> None:
        label = self._text(text, size)
        w, h = label.texture.size
        x = x - w / 2 if anchor == "center" else (x - w if anchor == "right" else x)
        Rectangle(texture=label.texture, pos=(x, y), size=(w, h))
        self._drawn.append((text, (x, y, w, h)))

    def _redraw(self, *_args) -> None:
        # The number of bars changes with the data, so the canvas is built
        # here rather than in kv. A staff screen: redrawn only when shown.
        self.canvas.clear()
        self._drawn: list[tuple[str, tuple]] = []
        if not self.points or self.width < 10 or self.height < 10:
            return
        u = self.unit
        small = u * 2.2
        axis_w = u * 7
        date_h = small * 1.6
        count_h = small * 1.5
        left, right = self.x + axis_w, self.right - u
        bottom, top = self.y + date_h, self.top - count_h
        plot_h = max(1.0, top - bottom)
        busiest = max(1, max(count for _d, count, _r in self.points))
        slot = (right - left) / len(self.points)
        bar = max(1.0, slot * 0.7)
        every = date_label_every(len(self.points))
        rate_line: list[float] = []
        with self.canvas:
            # The % axis: gridlines at 0, 50 and 100 %.
            for tick in RATE_TICKS:
                y = bottom + plot_h * tick / 100
                Color(*GRID)
                Line(points=[left, y, right, y], width=1)
                Color(1, 1, 1, 1)
                self._put(f"{tick}%", small, left - u * 0.8, y - small * 0.6, anchor="right")
            for i, (day, count, rate) in enumerate(self.points):
                x = left + i * slot + (slot - bar) / 2
                height = plot_h * count / busiest
                Color(*BAR)
                Rectangle(pos=(x, bottom), size=(bar, height))
                Color(1, 1, 1, 1)
                if count and (every == 1 or count == busiest or i == len(self.points) - 1):
                    # Inside the bar, at its foot, clear of the rate's line;
                    # above a bar too short to hold it.
                    inside = height > small * 1.6
                    self._put(str(count), small, x + bar / 2,
                              bottom + u * 0.3 if inside else bottom + height + u * 0.3)
                if i % every == 0 or i == len(self.points) - 1:
                    self._put(f"{day:%d/%m}", small, x + bar / 2, self.y)
                if rate is not None:
                    rate_line += [x + bar / 2, bottom + plot_h * rate]
            Color(*RATE)
            if len(rate_line) >= 4:
                Line(points=rate_line, width=max(1.0, u * 0.25))
            for i in range(0, len(rate_line), 2):
                d = u * 1.2
                Line(circle=(rate_line[i], rate_line[i + 1], d / 2), width=max(1.0, u * 0.25))


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
