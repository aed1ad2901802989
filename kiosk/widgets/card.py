"""White rounded cards, and the officer card (photo, name, title) that picks an officer."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout


class Card(BoxLayout):
    """A white rounded panel with a thin border."""


class OfficerCard(ButtonBehavior, Card):
    """An officer's photo, name and title; tapping it picks them."""

    officer = ObjectProperty(None, allownone=True)
    """The :class:`kiosk.config.Officer` shown."""


def fill_officer_grid(grid, officers, on_pick) -> None:
    """Put one :class:`OfficerCard` per officer into ``grid``; ``on_pick(officer)`` on a tap."""
    grid.clear_widgets()
    for officer in officers:
        card = OfficerCard(officer=officer)
        card.bind(on_release=lambda c: on_pick(c.officer))
        grid.add_widget(card)


class OfficerRow(Card):
    """An officer in the technician's list, with PIN, photo and on/off buttons."""

    officer = ObjectProperty(None, allownone=True)
    """The officer shown."""

    locked = BooleanProperty(False)
    """The roster comes from the server: the buttons are off."""
