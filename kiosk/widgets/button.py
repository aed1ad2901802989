"""The kiosk's large rounded buttons."""

from __future__ import annotations

from kivy.properties import ColorProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label


class BigButton(ButtonBehavior, Label):
    """A large button with a filled, rounded background."""

    bg = ColorProperty((0.07, 0.45, 0.55, 1))
    """Background colour."""

    fg = ColorProperty((1, 1, 1, 1))
    """Text colour."""
