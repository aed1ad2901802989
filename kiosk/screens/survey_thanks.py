"""The survey's thank-you: the answers are kept, anonymously; "Xong" or the
countdown goes back to rest."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty

from kiosk.screens.base import KioskScreen


class SurveyThanksScreen(KioskScreen):
    """Shown when a survey ends with the citizen still there."""

    answered = BooleanProperty(True)
    """At least one question was answered (and recorded)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counts_down = True

    def done(self) -> None:
        App.get_running_app().surveys.done()

    def on_timeout(self) -> None:
        App.get_running_app().surveys.done()
