"""A smiley face button for one level of the rating scale, drawn with vector
shapes so it stays sharp at any screen size."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ColorProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

# How far the mouth bends, per level: 1 is a broad smile, -1 a deep frown.
MOUTH_CURVE = {
    "very_satisfied": 1.0,
    "satisfied": 0.5,
    "neutral": 0.0,
    "dissatisfied": -0.5,
    "very_dissatisfied": -1.0,
}

# Points along the mouth's curve: enough for a smooth curve at 300 px, few
# enough that a software rasteriser draws three faces well inside a frame.
MOUTH_STEPS = 16


def mouth_strip(cx: float, cy: float, d: float, curve: float) -> tuple[list[float], list[int]]:
    """The mouth as a thick quadratic curve: vertices (x, y, u, v) and indices
    of a triangle strip. A filled strip, not a wide ``Line``: Kivy draws wide
    lines as many small triangles rebuilt with every change, which made the
    faces the costliest thing on the idle screen."""
    half = max(0.75, d * 0.0175)
    x0, y0 = cx - d * 0.24, cy - d * 0.16 + curve * d * 0.07
    x1, y1 = cx, cy - d * 0.16 - curve * d * 0.2
    x2, y2 = cx + d * 0.24, y0
    vertices: list[float] = []
    for i in range(MOUTH_STEPS + 1):
        t = i / MOUTH_STEPS
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        x, y = a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2
        # The curve's normal at t, from its derivative.
        dx = 2 * (1 - t) * (x1 - x0) + 2 * t * (x2 - x1)
        dy = 2 * (1 - t) * (y1 - y0) + 2 * t * (y2 - y1)
        length = (dx * dx + dy * dy) ** 0.5 or 1.0
        nx, ny = -dy / length * half, dx / length * half
        vertices += [x + nx, y + ny, 0, 0, x - nx, y - ny, 0, 0]
    return vertices, list(range(2 * (MOUTH_STEPS + 1)))


class Smiley(ButtonBehavior, BoxLayout):
    """A face and its label; tapping it rates with ``score``."""

    level = StringProperty("")
    """The level key (``very_satisfied`` ...)."""

    score = NumericProperty(0)
    """The level's score on its scale, 1 = worst."""

    colour = ColorProperty((0.5, 0.5, 0.5, 1))
    """The face's fill colour."""

    label = StringProperty("")
    """The level's words in the current language."""

    curve = NumericProperty(0.0)
    """Mouth bend, from -1 (frown) to 1 (smile)."""

    row = BooleanProperty(False)
    """Stacked in a column: the label beside the face, not under it."""

    d = NumericProperty(0.0)
    """The face's diameter, set in kv from the space available."""

    cx = NumericProperty(0.0)
    """The face's centre, x."""

    cy = NumericProperty(0.0)
    """The face's centre, y."""

    rim = NumericProperty(1.0)
    """The rim's width around the face, wider while pressed."""

    mouth_vertices = ListProperty([])
    """The mouth's triangle strip (see :func:`mouth_strip`)."""

    mouth_indices = ListProperty([])
    """Indices of :attr:`mouth_vertices`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(d=self._shape_mouth, cx=self._shape_mouth, cy=self._shape_mouth, curve=self._shape_mouth)

    def on_level(self, _instance: Smiley, level: str) -> None:
        self.curve = MOUTH_CURVE.get(level, 0.0)

    def _shape_mouth(self, *_args) -> None:
        self.mouth_vertices, self.mouth_indices = mouth_strip(self.cx, self.cy, self.d, self.curve)
