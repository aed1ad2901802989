"""A PIN on a large keypad, shown as dots: to start or end a shift, to see
one's own results, to open the technician's panel, or to set a new PIN."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import ObjectProperty, StringProperty

from kiosk.screens.base import KioskScreen
from kiosk.staff import PinPurpose

# What the PIN is for -> (prompt, button) catalogue keys.
PURPOSES = {
    PinPurpose.SHIFT_START: ("signin.pin", "signin.start"),
    PinPurpose.SHIFT_END: ("signin.pin", "signin.end"),
    PinPurpose.DAY: ("staff.day_pin", "staff.see"),
    PinPurpose.TECH: ("staff.tech_pin", "staff.see"),
    PinPurpose.NEW_PIN: ("staff.new_pin", "staff.save"),
    PinPurpose.NEW_PIN_AGAIN: ("staff.new_pin_again", "staff.save"),
}


class PinScreen(KioskScreen):
    """Asks for a PIN and hands it to the app, which knows what it is for."""

    compact_moves = (("actions", "left", "right"),)

    officer = ObjectProperty(None, allownone=True)
    """The officer whose PIN is asked; ``None`` for the technician."""

    purpose = ObjectProperty(PinPurpose.SHIFT_START)
    """A :class:`kiosk.staff.PinPurpose`."""

    message = StringProperty("")
    """The outcome of the last PIN, in words."""

    def ask(self, officer, purpose: PinPurpose) -> PinScreen:
        """Ask ``officer`` (``None``: the technician) for a PIN, for ``purpose``."""
        self.officer = officer
        self.purpose = PinPurpose(purpose)
        self.message = ""
        self.ids.pin.clear()
        return self

    def prompt_key(self, purpose: PinPurpose) -> str:
        """The catalogue key of the question above the keypad."""
        return PURPOSES[purpose][0]

    def button_key(self, purpose: PinPurpose) -> str:
        """The catalogue key of the button under the keypad."""
        return PURPOSES[purpose][1]

    def submit(self) -> None:
        entered = self.ids.pin.value
        self.ids.pin.clear()
        App.get_running_app().staff.submit_pin(self.officer, entered)

    def back(self) -> None:
        """Back to where the PIN was asked from: the technician's panel for a
        new PIN, else the staff menu."""
        App.get_running_app().navigator.show("tech" if self.purpose.sets_pin else "staff")

    def on_timeout(self) -> None:
        App.get_running_app().visits.go_idle()
