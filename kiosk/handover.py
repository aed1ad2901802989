"""The officer's hand-over trigger, told apart from other key presses; no Kivy.

A USB barcode or QR scanner is a keyboard to the tablet: it "types" the
dossier code (mã hồ sơ) printed on the receipt, then Enter, far faster than a
person types. :class:`HandOverKeys` collects characters that arrive within
``scan_gap_ms`` of each other and, on an Enter that follows as quickly, gives
the code. A key named in the settings (a small keypad's, or a foot switch
that sends one) triggers the prompt without a code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.record import MAX_DOSSIER_CODE_CHARS

__all__ = ["HandOver", "HandOverKeys", "MIN_CODE_CHARS"]

MIN_CODE_CHARS = 3
"""Fewer characters than this before Enter are not a receipt's code."""

_ENTER_KEYS = {"enter", "numpadenter"}


@dataclass(frozen=True)
class HandOver:
    """A trigger: the dossier code a scanner read, or ``None`` for the key."""

    dossier_code: str | None


class HandOverKeys:
    """Reads key presses as they come and says when one ends a hand-over."""

    def __init__(self, *, scanner: bool, key: str = "", scan_gap_ms: float = 50.0):
        self.scanner = scanner
        self.key = key.lower()
        self.gap_s = scan_gap_ms / 1000.0
        self._typed: list[str] = []
        self._last_s = 0.0

    def press(self, key_name: str, text: str | None, at_s: float) -> HandOver | None:
        """One key press: its name (Kivy's, e.g. ``f9``, ``enter``), the
        character it typed (if any), and when (seconds, monotonic). Returns
        the hand-over it completes, if any."""
        if self.key and key_name.lower() == self.key:
            self._typed.clear()
            return HandOver(None)
        if not self.scanner:
            return None
        fresh = bool(self._typed) and at_s - self._last_s <= self.gap_s
        if key_name.lower() in _ENTER_KEYS:
            code = "".join(self._typed) if fresh else ""
            self._typed.clear()
            if MIN_CODE_CHARS <= len(code) <= MAX_DOSSIER_CODE_CHARS:
                return HandOver(code)
            return None
        if text and len(text) == 1 and text.isprintable() and not text.isspace():
            if not fresh:
                self._typed.clear()  # a pause: what came before was a person, or nothing
            self._typed.append(text)
            self._last_s = at_s
            return None
        self._typed.clear()
        return None
