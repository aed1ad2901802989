"""An officer's portrait: their photo, or a drawn placeholder with initials."""

from __future__ import annotations

from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.relativelayout import RelativeLayout


class Portrait(RelativeLayout):
    """Shows ``officer.photo`` when there is one, otherwise their initials."""

    officer = ObjectProperty(None, allownone=True)
    """The :class:`kiosk.config.Officer` shown."""

    source = StringProperty("")
    """The photo file, derived from ``officer``."""

    initials = StringProperty("")
    """Initials, shown when there is no photo."""

    def on_officer(self, _instance: Portrait, officer) -> None:
        # Through "" first: a portrait replaced under the same file name is
        # read again instead of coming from Kivy's image cache.
        self.source = ""
        self.source = str(officer.photo) if officer is not None and officer.photo else ""
        self.initials = officer.initials if officer is not None else ""
