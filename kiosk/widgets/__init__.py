"""Reusable widgets of the kiosk: smiley faces, portraits, chips, the keypad,
the letters keyboard, the QR code and the hidden long-press entry. Their look is in ``widgets.kv``;
the dialogs' in ``dialogs.kv``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["kv_files"]


def kv_files() -> list[Path]:
    """The widgets' kv files, ``widgets.kv`` (the shared look) first. The
    widget classes are registered on the way, before any kv rule names them,
    but for the QR code (:mod:`kiosk.widgets.qr`) and the settings' menu
    (:mod:`kiosk.widgets.settings_menu`): their libraries (qrcode, Kivy's
    settings) would slow a cold start, so the screens showing them import them."""
    from kiosk.widgets import (  # noqa: F401
        button,
        card,
        charts,
        chip,
        dialogs,
        heading,
        hidden,
        keypad,
        letters,
        portrait,
        smiley,
    )

    here = Path(__file__).parent
    return sorted(here.glob("*.kv"), key=lambda path: (path.name != "widgets.kv", path.name))
