"""``choose`` mode's idle screen: the citizen taps the photo of the officer who served them."""

from __future__ import annotations

from kivy.app import App

from kiosk.screens.base import KioskScreen
from kiosk.widgets.card import OfficerCard


class ChooseScreen(KioskScreen):
    """A grid of officer cards."""

    def show_officers(self, officers) -> None:
        grid = self.ids.grid
        grid.clear_widgets()
        for officer in officers:
            card = OfficerCard(officer=officer)
            card.bind(on_release=self._picked)
            grid.add_widget(card)

    def cards(self) -> list:
        return list(reversed(self.ids.grid.children))

    def _picked(self, card) -> None:
        App.get_running_app().choose_officer(card.officer)

    def on_timeout(self) -> None:
        # Nothing was tapped yet: nothing to keep, nowhere else to go.
        pass
