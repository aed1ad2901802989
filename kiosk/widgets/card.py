"""White rounded cards, and the officer card (photo, name, title) that picks an officer."""

from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout


class Card(BoxLayout):
    """A white rounded panel with a thin border."""


class OfficerCard(ButtonBehavior, Card):
    """An officer's photo, name and title; tapping it picks them."""

    officer = ObjectProperty(None, allownone=True)
    """The :class:`kiosk.config.Officer` shown."""
