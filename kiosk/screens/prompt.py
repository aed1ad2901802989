"""The prompt screen: the faces asked for on purpose.

Three uses, one layout: the officer hands a result over (a scanned receipt or
the hand-over key) and the tablet chimes and asks "Mời Ông/Bà đánh giá" for
that dossier; a citizen pressed "Chọn lại" and picks a face again; or, where
ratings need a hand-over, the counter waits for one with no faces shown."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, OptionProperty, StringProperty

from kiosk.screens.base import KioskScreen
from kiosk.widgets.smiley import Smiley

CHIME = Path(__file__).resolve().parents[2] / "assets" / "sounds" / "chime.wav"
"""The short sound of a hand-over (made offline; see assets/sounds/README.md)."""

CHIME_S = 0.9
"""The chime's length: the spoken question follows it."""

_sound = None  # loaded once; False when this device has no audio


def play_chime() -> bool:
    """Play the hand-over chime; ``False`` where there is no sound (the prompt
    is then only seen)."""
    global _sound
    if _sound is None:
        try:
            from kivy.core.audio import SoundLoader

            _sound = (SoundLoader.load(str(CHIME)) if CHIME.is_file() else None) or False
        except Exception:  # no audio provider on this device: seen, not heard
            _sound = False
    if not _sound:
        return False
    _sound.stop()
    _sound.play()
    return True


class PromptScreen(KioskScreen):
    """Faces under a heading that says why they are asked for."""

    purpose = OptionProperty("handover", options=("handover", "again", "waiting"))
    officer = ObjectProperty(None, allownone=True)
    dossier_code = StringProperty("")
    wait_s = NumericProperty(0)
    faces_shown = BooleanProperty(True)

    def ask_for_rating(self, officer, dossier_code: str | None) -> None:
        """The hand-over: chime, and ask for this dossier."""
        app = App.get_running_app()
        self._set("handover", officer, dossier_code or "", app.settings.handover.prompt_s)
        chimed = play_chime()
        app.voice.say("question", app.language, after_s=CHIME_S if chimed else 0)

    def ask_again(self, officer, wait_s: float) -> None:
        """After "Chọn lại": the faces again, for ``wait_s`` seconds."""
        self._set("again", officer, "", wait_s)

    def wait_for_handover(self, officer) -> None:
        """At rest where ratings need a hand-over: no faces until one."""
        self._set("waiting", officer, "", 0)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        App.get_running_app().voice.stop("question")  # a tap cuts the question short

    def _set(self, purpose: str, officer, dossier_code: str, wait_s: float) -> None:
        self.purpose, self.officer, self.dossier_code, self.wait_s = purpose, officer, dossier_code, wait_s
        self.faces_shown = purpose != "waiting"
        self._lay_out_faces()
        if self.manager is not None and self.manager.current_screen is self:
            self.restart_timer()  # a second scan while the prompt shows starts it afresh

    def _lay_out_faces(self) -> None:
        row = self.ids.faces
        row.clear_widgets()
        if not self.faces_shown:
            return
        app = App.get_running_app()
        for level in app.desk.scale.best_first:
            face = Smiley(level=level.key, score=level.score, colour=(*level.colour, 1))
            face.label = app.tr(f"level.{level.key}")
            face.bind(on_release=self._tapped)
            row.add_widget(face)

    def faces(self) -> list[Smiley]:
        """The faces, left to right."""
        return list(reversed(self.ids.faces.children))

    def _tapped(self, face: Smiley) -> None:
        App.get_running_app().visits.rate(int(face.score))

    def on_timeout(self) -> None:
        """Nobody tapped: after "Chọn lại" the first choice stands; a hand-over lapses."""
        visits = App.get_running_app().visits
        if self.purpose == "again":
            visits.recorded_done()
        else:
            visits.go_idle()
