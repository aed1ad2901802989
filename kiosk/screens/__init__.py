"""The kiosk's screens: one module and one ``.kv`` file each, named alike.

A new screen is a module here holding its :class:`kivy.uix.screenmanager.Screen`
class, a ``.kv`` file of the same name beside it (``foo.py`` and ``foo.kv``),
and one line in :data:`SCREENS`. The app builds its screens from that list and
:func:`load_kv` finds their kv files by the module's name.

Start-up builds only the screens a counter can rest on (:data:`IDLE_FIRST`);
:class:`KioskScreens` builds each other citizen's screen in a frame of its
own soon after, and the staff's (:data:`ON_DEMAND`) when first asked for: a
cold start draws the idle screen without paying for the technician's panel.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.screens.callback import CallbackScreen
from kiosk.screens.choose import ChooseScreen
from kiosk.screens.closed import ClosedScreen
from kiosk.screens.day import DayScreen
from kiosk.screens.pin import PinScreen
from kiosk.screens.prompt import PromptScreen
from kiosk.screens.rate import RateScreen
from kiosk.screens.reasons import ReasonsScreen
from kiosk.screens.recorded import RecordedScreen
from kiosk.screens.signin import SignInScreen
from kiosk.screens.staff import StaffScreen
from kiosk.screens.survey_invite import SurveyInviteScreen
from kiosk.screens.survey_question import SurveyQuestionScreen
from kiosk.screens.survey_thanks import SurveyThanksScreen
from kiosk.screens.tech import TechScreen
from kiosk.screens.thanks import ThanksScreen

__all__ = ["IDLE_FIRST", "ON_DEMAND", "SCREENS", "KioskScreens", "build_screens", "kv_file", "load_kv"]

# Every screen, by the name the app navigates with. The first one is what the
# screen manager shows until the app chooses the idle screen.
SCREENS: tuple[tuple[str, type], ...] = (
    ("closed", ClosedScreen),
    ("choose", ChooseScreen),
    ("rate", RateScreen),
    ("recorded", RecordedScreen),
    ("prompt", PromptScreen),
    ("reasons", ReasonsScreen),
    ("callback", CallbackScreen),
    ("thanks", ThanksScreen),
    ("survey_invite", SurveyInviteScreen),
    ("survey_question", SurveyQuestionScreen),
    ("survey_thanks", SurveyThanksScreen),
    ("signin", SignInScreen),
    ("pin", PinScreen),
    ("staff", StaffScreen),
    ("day", DayScreen),
    ("tech", TechScreen),
)

IDLE_FIRST = ("closed", "choose", "rate")
"""The screens built at start: whichever the counter rests on shows first."""

ON_DEMAND = ("signin", "pin", "staff", "day", "tech")
"""The staff's screens, built only when first opened, never in the
background: the technician's panel and the officer's chart take 40–55 ms to
build, too long for a frame a citizen might touch in; a staff member opening
one waits that once."""

REST_AFTER_S = 2.0
"""Seconds after start before the other screens are built, one per frame."""

_kv_loaded = False
_kv_files_loaded: set[Path] = set()


def keep_out_of_collections() -> None:
    """Move every object alive now (modules, kv rules, the built screens) out
    of the garbage collector's view: they live as long as the app, and a full
    collection walking them all took 40–130 ms, a frame a citizen could feel.
    Collections then walk only what was made since."""
    gc.freeze()


def kv_file(screen_class: type) -> Path:
    """The kv file of a screen class: its module's file with ``.kv`` for ``.py``."""
    return Path(sys.modules[screen_class.__module__].__file__).with_suffix(".kv")


def load_kv() -> None:
    """Load every kv file exactly once: the widgets' first (the screens use
    them), then each registered screen's, in :data:`SCREENS` order."""
    global _kv_loaded
    if _kv_loaded:
        return
    from kiosk.widgets import kv_files as widget_kv_files

    _load_files(widget_kv_files())
    for _name, screen_class in SCREENS:
        load_screen_kv(screen_class)
    _kv_loaded = True


def _load_files(paths) -> None:
    for path in paths:
        if path not in _kv_files_loaded:
            Builder.load_file(str(path))
            _kv_files_loaded.add(path)


def load_screen_kv(screen_class: type) -> None:
    """Load the widgets' kv files, then one screen's, each only once."""
    from kiosk.widgets import kv_files as widget_kv_files

    _load_files(widget_kv_files())
    path = kv_file(screen_class)
    # A screen without kv rules of its own has no file; two screens of
    # one module share theirs.
    if path.is_file():
        _load_files([path])


class KioskScreens(ScreenManager):
    """The screen manager of the kiosk: a screen not built yet is built when
    first asked for, and the rest are built one per frame after start."""

    def __init__(self, **kwargs):
        kwargs.setdefault("transition", NoTransition())
        super().__init__(**kwargs)
        self._classes = dict(SCREENS)
        self._pending: list[str] = []
        self._next = None

    def build(self, names) -> None:
        """Build the named screens now."""
        for name in names:
            self.get_screen(name)

    @property
    def complete(self) -> bool:
        """Every screen built in the background is built (not :data:`ON_DEMAND`)."""
        return all(self.has_screen(name) for name in self._classes if name not in ON_DEMAND)

    def build_rest_soon(self, after_s: float = REST_AFTER_S) -> None:
        """Build every screen not built yet, one per frame, from ``after_s``
        seconds on (the idle screen is drawn first)."""
        self._pending = [name for name, _cls in SCREENS if not self.has_screen(name) and name not in ON_DEMAND]
        if self._pending:
            self._next = Clock.schedule_once(self._build_next, after_s)

    def stop_building(self) -> None:
        """Build nothing more by itself (the app stops)."""
        self._pending = []
        if self._next is not None:
            self._next.cancel()
            self._next = None

    def _build_next(self, _dt: float) -> None:
        from kivy.app import App

        app = App.get_running_app()
        if app is not None and not app.visits.at_rest:
            # Never in the frames of a citizen's visit: later, at rest.
            self._next = Clock.schedule_once(self._build_next, REST_AFTER_S)
            return
        while self._pending and self.has_screen(self._pending[0]):
            self._pending.pop(0)
        if self._pending:
            self.get_screen(self._pending.pop(0))
        self._next = Clock.schedule_once(self._build_next) if self._pending else None
        if not self._pending:
            keep_out_of_collections()

    def get_screen(self, name: str):
        """The screen called ``name``, built now if it was not yet."""
        if not self.has_screen(name) and name in self._classes:
            screen_class = self._classes[name]
            load_screen_kv(screen_class)
            self.add_widget(screen_class(name=name))
        return super().get_screen(name)


def build_screens() -> list:
    """One instance of every registered screen, named as registered."""
    load_kv()
    return [screen_class(name=name) for name, screen_class in SCREENS]
