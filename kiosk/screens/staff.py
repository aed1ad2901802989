"""Behind the hidden entry: the staff menu (shift, my results, technician)."""

from __future__ import annotations

from kivy.app import App

from kiosk.screens.base import KioskScreen


class StaffScreen(KioskScreen):
    """Three large choices; nothing here is for citizens."""

    def on_timeout(self) -> None:
        App.get_running_app().visits.go_idle()
