"""A large numeric keypad for phone numbers and PINs: no system keyboard."""

from __future__ import annotations

from kivy.properties import NumericProperty, StringProperty
from kivy.uix.gridlayout import GridLayout


class Keypad(GridLayout):
    """Digits 1-9, 0 and a delete key; edits ``value`` up to ``max_length`` digits."""

    value = StringProperty("")
    """The digits typed so far."""

    max_length = NumericProperty(11)
    """No more digits than this are taken."""

    delete_text = StringProperty("⌫")
    """The delete key's words in the current language."""

    def press(self, key: str) -> None:
        """Handle a key: a digit appends, ``del`` removes the last digit."""
        if key == "del":
            self.value = self.value[:-1]
        elif key.isdigit() and len(self.value) < self.max_length:
            self.value += key

    def clear(self) -> None:
        self.value = ""
