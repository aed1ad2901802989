"""``choose`` mode's idle screen: the citizen taps the photo of the officer who served them."""

from __future__ import annotations

from kivy.app import App

from kiosk.screens.base import KioskScreen
from kiosk.widgets.card import fill_officer_grid


class ChooseScreen(KioskScreen):
    """A grid of officer cards."""

    def show_officers(self, officers) -> None:
        fill_officer_grid(self.ids.grid, officers, App.get_running_app().visits.choose_officer)

    def cards(self) -> list:
        return list(reversed(self.ids.grid.children))

    def on_timeout(self) -> None:
        # Nothing was tapped yet: nothing to keep, nowhere else to go.
        pass
