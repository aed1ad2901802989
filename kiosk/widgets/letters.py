"""A large on-screen keyboard for a short Vietnamese text: letters in
alphabetical order (the Vietnamese alphabet, vowels with their hats and
horns as keys of their own), the five tone marks as keys that mark the last
word's vowel, comma, full stop, space and delete. No system keyboard, no
typing method to learn."""

from __future__ import annotations

import unicodedata

from kivy.factory import Factory
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.widgets import load_widget_kv

__all__ = ["LETTER_ROWS", "TONES", "TONE_NAMES", "LetterKeys", "with_tone"]

LETTER_ROWS = (
    ("a", "ă", "â", "b", "c", "d", "đ", "e"),
    ("ê", "g", "h", "i", "k", "l", "m", "n"),
    ("o", "ô", "ơ", "p", "q", "r", "s", "t"),
    ("u", "ư", "v", "x", "y", ",", ".", "del"),
)
"""The letter keys, row by row (``del`` deletes the last character)."""

TONES = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
"""Sắc, huyền, hỏi, ngã, nặng: combining marks, in the order taught at school."""

TONE_NAMES = ("sắc", "huyền", "hỏi", "ngã", "nặng")
"""The tones' names as every Vietnamese reader learnt them (each name bears its own mark)."""

_VOWELS = set("aăâeêioôơuưy")
_MARKED = set("ăâêôơư")


def _base(char: str) -> str:
    """A letter without its tone mark (its hat or horn kept)."""
    return unicodedata.normalize("NFC", "".join(
        c for c in unicodedata.normalize("NFD", char) if c not in TONES))


def _plain_vowel(char: str) -> str:
    base = _base(char.lower())
    return base if base in _VOWELS else ""


def with_tone(text: str, tone: str) -> str:
    """``text`` with its last word's vowel carrying ``tone`` (a mark of
    :data:`TONES`); the same mark again takes it off. Where the mark goes
    follows the usual spelling: on the vowel with a hat or horn (on ơ in
    ươ), else in a pair of vowels on the first when the word ends there
    (mùa, hòa) and on the second before a consonant (toán, hoàng), in three
    vowels on the middle one; ``qu`` and ``gi`` count as consonants."""
    end = len(text)
    start = end
    while start > 0 and (text[start - 1].isalpha()):
        start -= 1
    word = text[start:end]
    if not word:
        return text
    lower = word.lower()
    skip = 2 if lower.startswith(("qu", "gi")) and len(word) > 2 and _plain_vowel(word[2]) else 0
    places = [i for i in range(skip, len(word)) if _plain_vowel(word[i])]
    if not places:
        return text
    # The vowels of the word's nucleus: the last run of vowels.
    run = [places[-1]]
    for i in reversed(places[:-1]):
        if i == run[0] - 1:
            run.insert(0, i)
        else:
            break
    marked = [i for i in run if _plain_vowel(word[i]) in _MARKED]
    if marked:
        target = marked[-1]
    elif len(run) == 1:
        target = run[0]
    elif len(run) >= 3:
        target = run[1]
    else:
        target = run[0] if run[-1] == len(word) - 1 else run[1]
    char = word[target]
    had = [c for c in unicodedata.normalize("NFD", char) if c in TONES]
    new = _base(char) if had and had[0] == tone else unicodedata.normalize("NFC", _base(char) + tone)
    return text[:start] + word[:target] + new + word[target + 1:] + text[end:]


class LetterKeys(BoxLayout):
    """The keyboard (rows of ``LetterKey`` buttons, look in ``letters.kv``);
    edits :attr:`value`, up to :attr:`max_length` characters."""

    value = StringProperty("")
    """The text typed so far."""

    max_length = NumericProperty(200)

    delete_text = StringProperty("⌫")
    space_text = StringProperty("␣")

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        for row in (*LETTER_ROWS, (*TONES, "space")):
            line = Factory.LetterRow()
            for key in row:
                button = Factory.LetterKey()
                button.key = key
                if key == "space":
                    button.size_hint_x = 3
                    self.bind(space_text=button.setter("text"))
                    button.text = self.space_text
                elif key == "del":
                    self.bind(delete_text=button.setter("text"))
                    button.text = self.delete_text
                elif key in TONES:
                    # Each tone by its name, which carries it: sắc, huyền, hỏi, ngã, nặng.
                    button.text = TONE_NAMES[TONES.index(key)]
                else:
                    button.text = key
                button.bind(on_release=lambda b: self.press(b.key))
                line.add_widget(button)
            self.add_widget(line)

    def keys(self) -> dict[str, object]:
        """The key buttons by their key (``a``, ``del``, ``space``, a tone mark)."""
        return {button.key: button for line in self.children for button in line.children}

    def press(self, key: str) -> None:
        """A key: a letter or sign is added, ``del`` deletes, ``space`` adds a
        space (never two), a tone marks the last word."""
        if key == "del":
            self.value = self.value[:-1]
        elif key == "space":
            if self.value and not self.value.endswith(" ") and len(self.value) < self.max_length:
                self.value += " "
        elif key in TONES:
            self.value = with_tone(self.value, key)
        elif len(self.value) < self.max_length:
            self.value += key

    def clear(self) -> None:
        """Empty the text."""
        self.value = ""


load_widget_kv("letters.kv")
