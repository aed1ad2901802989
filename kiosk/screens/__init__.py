"""The kiosk's screens: one module and one ``.kv`` file each, named alike.

A new screen is a module here holding its :class:`kivy.uix.screenmanager.Screen`
class, a ``.kv`` file of the same name beside it (``foo.py`` and ``foo.kv``),
and one line in :data:`SCREENS`. The app builds its screens from that list and
:func:`load_kv` finds their kv files by the module's name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kivy.lang import Builder

from kiosk.screens.callback import CallbackScreen
from kiosk.screens.choose import ChooseScreen
from kiosk.screens.closed import ClosedScreen
from kiosk.screens.day import DayScreen
from kiosk.screens.pin import PinScreen
from kiosk.screens.rate import RateScreen
from kiosk.screens.reasons import ReasonsScreen
from kiosk.screens.signin import SignInScreen
from kiosk.screens.staff import StaffScreen
from kiosk.screens.tech import TechScreen
from kiosk.screens.thanks import ThanksScreen

__all__ = ["SCREENS", "build_screens", "kv_file", "load_kv"]

# Every screen, by the name the app navigates with. The first one is what the
# screen manager shows until the app chooses the idle screen.
SCREENS: tuple[tuple[str, type], ...] = (
    ("closed", ClosedScreen),
    ("choose", ChooseScreen),
    ("rate", RateScreen),
    ("reasons", ReasonsScreen),
    ("callback", CallbackScreen),
    ("thanks", ThanksScreen),
    ("signin", SignInScreen),
    ("pin", PinScreen),
    ("staff", StaffScreen),
    ("day", DayScreen),
    ("tech", TechScreen),
)

_kv_loaded = False


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

    files = list(widget_kv_files())
    for _name, screen_class in SCREENS:
        path = kv_file(screen_class)
        # A screen without kv rules of its own has no file; two screens of
        # one module share theirs.
        if path.is_file() and path not in files:
            files.append(path)
    for path in files:
        Builder.load_file(str(path))
    _kv_loaded = True


def build_screens() -> list:
    """One instance of every registered screen, named as registered."""
    load_kv()
    return [screen_class(name=name) for name, screen_class in SCREENS]
