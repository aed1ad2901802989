"""A reason chip: a large on/off button whose state is plain to see."""

from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.behaviors import ToggleButtonBehavior
from kivy.uix.label import Label


class Chip(ToggleButtonBehavior, Label):
    """One reason; ``state`` is ``down`` when chosen."""

    reason_id = StringProperty("")
    """The reason's stable id, recorded with the rating."""
