"""A smiley face button for one level of the rating scale, drawn with vector
shapes so it stays sharp at any screen size."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
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

    def on_level(self, _instance: Smiley, level: str) -> None:
        self.curve = MOUTH_CURVE.get(level, 0.0)
