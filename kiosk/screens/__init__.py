"""The kiosk's screens: one module and one ``.kv`` file each, named alike.

A new screen is a module here holding its :class:`kivy.uix.screenmanager.Screen`
class, a ``.kv`` file of the same name beside it (``foo.py`` and ``foo.kv``),
and one line in :data:`SCREENS`: the screen's name, which is its module's and
its kv file's, and its class's name. The app builds its screens from that
list; a screen's module is imported, and its kv file loaded, when the screen
is first built.

Start-up builds only the screen the counter rests on, when the app first
shows it; :class:`KioskScreens` builds each other citizen's screen in a frame
of its own soon after, at rest, and the staff's (:data:`ON_DEMAND`) when
first asked for. Any screen asked for before it is built (a tap within
:data:`REST_AFTER_S` of the start) is built then and there: a cold start
draws the idle screen without paying for the others.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable
from pathlib import Path

from kivy.clock import Clock
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

__all__ = ["ON_DEMAND", "SCREENS", "KioskScreens", "build_screens", "kv_file", "load_kv",
           "screen_class"]

# Every screen, by the name the app navigates with (its module's and kv
# file's name too), and its class. The first one is what the screen manager
# shows until the app chooses the idle screen.
SCREENS: tuple[tuple[str, str], ...] = (
    ("closed", "ClosedScreen"),
    ("choose", "ChooseScreen"),
    ("rate", "RateScreen"),
    ("recorded", "RecordedScreen"),
    ("prompt", "PromptScreen"),
    ("reasons", "ReasonsScreen"),
    ("callback", "CallbackScreen"),
    ("thanks", "ThanksScreen"),
    ("survey_invite", "SurveyInviteScreen"),
    ("survey_question", "SurveyQuestionScreen"),
    ("survey_thanks", "SurveyThanksScreen"),
    ("signin", "SignInScreen"),
    ("pin", "PinScreen"),
    ("staff", "StaffScreen"),
    ("day", "DayScreen"),
    ("tech", "TechScreen"),
)

ON_DEMAND = ("signin", "pin", "staff", "day", "tech")
"""The staff's screens, built only when first opened, never in the
background: the technician's panel and the officer's chart take 40–55 ms to
build, too long for a frame a citizen might touch in; a staff member opening
one waits that once."""

REST_AFTER_S = 2.0
"""Seconds after start before the other screens are built, one per frame."""



def keep_out_of_collections() -> None:
    """Move every object alive now (modules, kv rules, the built screens) out
    of the garbage collector's view: they live as long as the app, and a full
    collection walking them all took 40–130 ms, a frame a citizen could feel.
    Collections then walk only what was made since."""
    gc.freeze()


def screen_class(name: str) -> type:
    """The class of the screen called ``name``, its module imported if it was not yet."""
    module = importlib.import_module(f"{__name__}.{name}")
    return getattr(module, dict(SCREENS)[name])


def kv_file(name: str) -> Path:
    """The kv file of the screen called ``name``: beside its module, named alike."""
    return Path(__file__).with_name(f"{name}.kv")


def load_kv() -> None:
    """Load every kv file, each once: the widgets' first (the screens use
    them), then each registered screen's, in :data:`SCREENS` order."""
    from kiosk.widgets import load_all_kv

    load_all_kv()
    for name, _class_name in SCREENS:
        load_screen_kv(name)


def load_screen_kv(name: str) -> None:
    """Load the shared widgets' kv file, then the screen ``name``'s, each
    only once. The screen's module is imported in between, and with it the
    widget modules it uses, whose own kv files (the letters keyboard's, the
    settings') they load themselves."""
    from kiosk.widgets import load_kv_files, load_shared_kv

    load_shared_kv()
    screen_class(name)
    load_kv_files([kv_file(name)])


class KioskScreens(ScreenManager):
    """The screen manager of the kiosk: a screen not built yet is built when
    first asked for, and the rest are built one per frame after start.
    ``prepare(screen)`` fills each screen with what is built in Python (the
    faces, the officers' cards) as soon as the screen is built."""

    def __init__(self, prepare: Callable[[Screen], None] | None = None, **kwargs):
        kwargs.setdefault("transition", NoTransition())
        super().__init__(**kwargs)
        self._names = {name for name, _class_name in SCREENS}
        self._prepare = prepare
        self._in_background: tuple[str, ...] = ()
        self._pending: list[str] = []
        self._loaded: set[str] = set()  # screens whose code and kv file the background has loaded
        self._next = None

    @property
    def complete(self) -> bool:
        """Every screen to be built in the background is built."""
        return all(self.has_screen(name) for name in self._in_background)

    def build_rest_soon(self, after_s: float | None = None, *, skip: tuple[str, ...] = ()) -> None:
        """Build every screen not built yet, one per frame, from ``after_s``
        seconds on (default :data:`REST_AFTER_S`; the idle screen is drawn
        first), but the staff's (:data:`ON_DEMAND`) and those in ``skip``:
        those are built when first asked for."""
        self._in_background = tuple(name for name, _class_name in SCREENS
                                    if name not in ON_DEMAND and name not in skip)
        self._pending = [name for name in self._in_background if not self.has_screen(name)]
        if self._pending:
            self._next = Clock.schedule_once(self._build_next, REST_AFTER_S if after_s is None else after_s)

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
        if self._pending and self._pending[0] not in self._loaded:
            # Its module, what that imports and its kv file in a frame of
            # their own; the screen is built in the next one.
            load_screen_kv(self._pending[0])
            self._loaded.add(self._pending[0])
        elif self._pending:
            self.get_screen(self._pending.pop(0))
        # What was just made lives as long as the app: out of the collector's
        # full passes from now on (a moment's work), so none of them walks it
        # in a later frame (one did, 35 ms, in the middle of these builds).
        gc.freeze()
        self._next = Clock.schedule_once(self._build_next) if self._pending else None
        if not self._pending:
            keep_out_of_collections()

    def get_screen(self, name: str):
        """The screen called ``name``, built now if it was not yet."""
        if not self.has_screen(name) and name in self._names:
            load_screen_kv(name)
            screen = screen_class(name)(name=name)
            if self._prepare is not None:
                self._prepare(screen)
            self.add_widget(screen)
        return super().get_screen(name)

    def built(self, name: str) -> Screen | None:
        """The screen called ``name`` if it is built, without building it."""
        return super().get_screen(name) if self.has_screen(name) else None


def build_screens() -> list:
    """One instance of every registered screen, named as registered."""
    load_kv()
    return [screen_class(name)(name=name) for name, _class_name in SCREENS]
