"""A calm "counter closed" screen: nobody signed in, or outside working hours."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.screens.base import KioskScreen


class ClosedScreen(KioskScreen):
    """No rating can be made here."""

    reason = StringProperty("")
    """``no_officer`` or ``outside_hours``."""

    hours = StringProperty("")
    """Today's working hours, already in words."""

    def on_timeout(self) -> None:
        pass
