"""Officer sign-in at the counter, step one: pick your portrait.
The PIN comes next, on :class:`kiosk.screens.pin.PinScreen`."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import ObjectProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.card import fill_officer_grid


class SignInScreen(KioskScreen):
    """The roster's portraits; the officer on duty is named above them."""

    on_duty = ObjectProperty(None, allownone=True)
    """Who is signed in now, if anyone."""

    def show_officers(self, officers, on_duty) -> None:
        self.on_duty = on_duty
        fill_officer_grid(self.ids.grid, officers, App.get_running_app().staff.officer_picked)

    def cards(self) -> list:
        return list(reversed(self.ids.grid.children))

    def on_timeout(self) -> None:
        App.get_running_app().visits.go_idle()
