"""Reusable widgets of the kiosk: smiley faces, portraits, chips, the keypad,
the letters keyboard, the QR code and the hidden long-press entry. Their
shared look is in ``widgets.kv``; the letters keyboard's, the dialogs' and
the technician's settings' in kv files of their own (``letters.kv``,
``dialogs.kv``, ``settings.kv``), loaded with their modules: the idle screen
needs none of them, and a cold start does not read them.

Every kv file of the kiosk is loaded through :func:`load_kv_files`, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["load_all_kv", "load_kv_files", "load_shared_kv", "load_widget_kv"]

_HERE = Path(__file__).parent
_loaded: set[Path] = set()


def load_kv_files(paths: Iterable[Path]) -> None:
    """Load each kv file not loaded yet, in order: Kivy warns about a file
    loaded twice, and its rules would then apply twice."""
    from kivy.lang import Builder

    for path in paths:
        if path not in _loaded:
            Builder.load_file(str(path))
            _loaded.add(path)


def load_shared_kv() -> None:
    """``widgets.kv``, the look every screen shares, with the widget classes
    it names registered first."""
    from kiosk.widgets import (  # noqa: F401
        button,
        card,
        charts,
        chip,
        heading,
        hidden,
        keypad,
        portrait,
        smiley,
    )

    load_kv_files([_HERE / "widgets.kv"])


def load_widget_kv(name: str) -> None:
    """The kv file ``name`` of one widget module, after the shared look it
    builds on; its module calls this when imported."""
    load_shared_kv()
    load_kv_files([_HERE / name])


def load_all_kv() -> None:
    """Every widget kv file: the shared look and each module's own. The QR
    code and the settings' menu come too (their libraries, qrcode and Kivy's
    settings, are otherwise imported by the screens showing them)."""
    load_shared_kv()
    from kiosk.widgets import dialogs, letters, qr, settings_menu  # noqa: F401
