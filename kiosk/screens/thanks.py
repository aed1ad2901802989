"""The thank-you screen: thanks, the leaders' hotline, the QR code of the
comment form for this very rating, and "Xong" with a visible countdown."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.qr import QrCode  # noqa: F401  (thanks.kv shows one)


class ThanksScreen(KioskScreen):
    """Shown after the rating is committed; goes back to idle by itself after
    the countdown, or at once on "Xong"."""

    comment_url = StringProperty("")
    """``<server>/c/<rating-uuid>?t=<token>``, encoded in the QR code."""

    callback_noted = BooleanProperty(False)
    """The citizen left a number to be called back."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counts_down = True

    def spoken_prompt(self) -> str | None:
        return "thanks"

    def done(self) -> None:
        """The citizen is finished: back to the idle screen now."""
        App.get_running_app().visits.end_visit()
