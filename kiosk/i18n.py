"""The language catalogues: every user-facing string, one YAML file per language.

``tr("thanks.hotline", hotline="0912...")`` looks a dotted key up in the
current language and fills in the values. Vietnamese is the default; English
is the second language. A key missing from a catalogue is a bug, caught by the
tests that compare the catalogues.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sync.roster import LANGUAGES

__all__ = ["LANGUAGES", "Catalogue", "catalogue", "tr", "set_language", "current_language"]

_LOCALE_DIR = Path(__file__).with_name("locale")


class Catalogue:
    """The strings of one language, looked up by dotted key."""

    def __init__(self, language: str, entries: dict[str, str]):
        self.language = language
        self.entries = entries

    def get(self, key: str, **values: Any) -> str:
        """The string for ``key`` with ``{name}`` placeholders filled in."""
        text = self.entries[key]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.entries


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = str(value)
    return flat


@cache
def catalogue(language: str) -> Catalogue:
    """The catalogue of a language, read once."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    with open(_LOCALE_DIR / f"{language}.yaml", encoding="utf-8") as fh:
        tree = YAML(typ="safe").load(fh)
    return Catalogue(language, _flatten(tree))


_current = {"language": "vi"}


def set_language(language: str) -> None:
    """Make ``language`` the one :func:`tr` answers in."""
    catalogue(language)  # fail early on an unknown language
    _current["language"] = language


def current_language() -> str:
    return _current["language"]


def tr(key: str, **values: Any) -> str:
    """Translate a dotted key into the current language."""
    return catalogue(_current["language"]).get(key, **values)
