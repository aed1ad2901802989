"""After a rating: reason chips, several may be chosen, all optional."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.chip import Chip


class ReasonsScreen(KioskScreen):
    """Asks why; ``low`` decides the question and offers the call-back."""

    low = BooleanProperty(True)
    """A low rating: ask what went wrong."""

    offers_callback = BooleanProperty(False)
    """Offer the call-back: a low rating, on a tablet holding the server's
    key to seal the number to (:meth:`kiosk.desk.RatingDesk.takes_callbacks`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Chips are made once per reason and kept: building a widget from its
        # kv rules costs about half a millisecond, which would otherwise be
        # paid for every chip inside the tap that records a rating.
        self._made: dict[str, Chip] = {}

    def show_reasons(self, reasons, label_for, low: bool) -> None:
        self.low = low
        grid = self.ids.chips
        wanted = [self._chip(reason.id) for reason in reasons]
        for chip, reason in zip(wanted, reasons, strict=True):
            chip.state = "normal"
            chip.text = label_for(reason)
        if self.chips() != wanted:
            grid.clear_widgets()
            for chip in wanted:
                grid.add_widget(chip)

    def _chip(self, reason_id: str) -> Chip:
        chip = self._made.get(reason_id)
        if chip is None:
            chip = self._made[reason_id] = Chip(reason_id=reason_id)
        return chip

    def chips(self) -> list[Chip]:
        return list(reversed(self.ids.chips.children))

    def chosen(self) -> list[str]:
        """Ids of the chips that are on, in display order."""
        return [chip.reason_id for chip in self.chips() if chip.state == "down"]

    def spoken_prompt(self) -> str | None:
        return "reasons_low" if self.low else "reasons_high"

    def done(self) -> None:
        App.get_running_app().visits.reasons_done(self.chosen())

    def skip(self) -> None:
        App.get_running_app().visits.reasons_done([])

    def callback(self) -> None:
        App.get_running_app().visits.request_callback(self.chosen())

    def on_timeout(self) -> None:
        # What was tapped is kept: the chosen chips are saved with the rating.
        App.get_running_app().visits.reasons_done(self.chosen(), thank=False)
