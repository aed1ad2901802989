"""A PIN on a large keypad, shown as dots. Used to start or end a shift."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from kiosk.screens.base import KioskScreen


class PinScreen(KioskScreen):
    """Asks ``officer`` for their PIN and hands it to the app."""

    officer = ObjectProperty(None, allownone=True)
    """The officer whose PIN is asked."""

    ends_shift = BooleanProperty(False)
    """The officer is on duty: the PIN ends their shift."""

    message = StringProperty("")
    """The outcome of the last PIN, in words."""

    def ask(self, officer, ends_shift: bool) -> None:
        self.officer = officer
        self.ends_shift = ends_shift
        self.message = ""
        self.ids.pin.clear()

    def submit(self) -> None:
        entered = self.ids.pin.value
        self.ids.pin.clear()
        App.get_running_app().submit_pin(self.officer, entered)

    def back(self) -> None:
        App.get_running_app().open_signin()

    def on_timeout(self) -> None:
        App.get_running_app().go_idle()
