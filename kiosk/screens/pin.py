"""A PIN on a large keypad, shown as dots: to start or end a shift, to see
one's own results, to open the technician's panel, or to set a new PIN."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import ObjectProperty, StringProperty

from kiosk.screens.base import KioskScreen

# What the PIN is for -> (prompt, button) catalogue keys.
PURPOSES = {
    "shift_start": ("signin.pin", "signin.start"),
    "shift_end": ("signin.pin", "signin.end"),
    "day": ("staff.day_pin", "staff.see"),
    "tech": ("staff.tech_pin", "staff.see"),
    "new_pin": ("staff.new_pin", "staff.save"),
    "new_pin_again": ("staff.new_pin_again", "staff.save"),
}


class PinScreen(KioskScreen):
    """Asks for a PIN and hands it to the app, which knows what it is for."""

    officer = ObjectProperty(None, allownone=True)
    """The officer whose PIN is asked; ``None`` for the technician."""

    purpose = StringProperty("shift_start")
    """One of :data:`PURPOSES`."""

    message = StringProperty("")
    """The outcome of the last PIN, in words."""

    def ask(self, officer, purpose: str) -> "PinScreen":
        self.officer = officer
        self.purpose = purpose
        self.message = ""
        self.ids.pin.clear()
        return self

    def prompt_key(self, purpose: str) -> str:
        return PURPOSES[purpose][0]

    def button_key(self, purpose: str) -> str:
        return PURPOSES[purpose][1]

    def submit(self) -> None:
        entered = self.ids.pin.value
        self.ids.pin.clear()
        App.get_running_app().submit_pin(self.officer, entered)

    def back(self) -> None:
        app = App.get_running_app()
        app.show("tech") if self.purpose.startswith("new_pin") else app.show("staff")

    def on_timeout(self) -> None:
        App.get_running_app().go_idle()
