"""The dashboard's words in Vietnamese (the default) and English.

Every user-facing string of the server's pages is a key in
``server/locale/vi.yaml`` and ``server/locale/en.yaml`` (nested maps, keys
joined with dots: ``nav.devices``); ``{name}`` marks a value filled in.
Both files have the same keys and placeholders (a test checks it).

    t = translator("vi")
    t("login.locked", minutes=3)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "Translate", "catalogue", "translate", "translator", "language_of",
           "day_in_words"]

LANGUAGES = ("vi", "en")
"""The languages of the pages, the default first."""
DEFAULT_LANGUAGE = "vi"
LOCALE_DIR = Path(__file__).with_name("locale")

Translate = Callable[..., str]
"""``t(key, **values)``: the text of a key in one language, values filled in."""


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = "" if value is None else str(value)
    return flat


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every key of a language and its text (read once)."""
    with open(LOCALE_DIR / f"{language}.yaml", encoding="utf-8") as fh:
        return _flatten(YAML(typ="safe").load(fh) or {})


def translate(language: str, key: str, **values: Any) -> str:
    """The text of ``key`` in ``language``, ``{placeholders}`` filled from ``values``.

    A key missing from the language falls back to Vietnamese, then to the key
    itself, so a page never fails on a missing word (the parity test catches it)."""
    text = catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def translator(language: str) -> Translate:
    """The ``t`` function of one language, as the templates get it."""

    def t(key: str, **values: Any) -> str:
        return translate(language, key, **values)

    return t


def language_of(cookie: str | None) -> str:
    """The page language from the ``lang`` cookie: Vietnamese unless it says ``en``."""
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


def day_in_words(day: date, t: Translate) -> str:
    """A day as the pages write it, its weekday first, the date day first
    («Thứ Sáu, ngày 06/03/2026»): never read in another order, whatever
    order a browser shows its date fields in."""
    return t("board.label.day", weekday=t(f"board.weekday.{day.weekday()}"), date=day.strftime("%d/%m/%Y"))
