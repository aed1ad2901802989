"""The thank-you screen: thanks, the leaders' hotline, and the QR code of the
comment form for this very rating."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.screens.base import KioskScreen


class ThanksScreen(KioskScreen):
    """Shown after the rating is committed; goes back to idle by itself."""

    comment_url = StringProperty("")
    """``<server>/c/<rating-uuid>?t=<token>``, encoded in the QR code."""

    callback_noted = BooleanProperty(False)
    """The citizen left a number to be called back."""
