"""The rating screen: who served the citizen, the question, and the smileys.
In ``counter`` and ``officer`` modes this is the idle screen."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ObjectProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.smiley import Smiley


class RateScreen(KioskScreen):
    """One tap on a face records the rating."""

    officer = ObjectProperty(None, allownone=True)
    """The officer being rated."""

    can_go_back = BooleanProperty(False)
    """``choose`` mode: a back button to the officer grid, and a timeout back to it."""

    def spoken_prompt(self) -> str | None:
        # At rest the question would be said to nobody: only once a citizen
        # has picked who served them.
        return "question" if self.can_go_back else None

    def show_scale(self, levels, label_for) -> None:
        """Lay out one face per level, best on the left."""
        row = self.ids.faces
        row.clear_widgets()
        for level in levels:
            face = Smiley(level=level.key, score=level.score, colour=(*level.colour, 1))
            face.label = label_for(level.key)
            face.bind(on_release=self._tapped)
            row.add_widget(face)

    def relabel(self, label_for) -> None:
        """Put the level words of the current language under the faces."""
        for face in self.ids.faces.children:
            face.label = label_for(face.level)

    def faces(self) -> list[Smiley]:
        """The faces, left to right."""
        return list(reversed(self.ids.faces.children))

    def _tapped(self, face: Smiley) -> None:
        App.get_running_app().visits.rate(int(face.score))
