"""Headings that wrap in balanced lines, and only between phrases.

Kivy wraps greedily: a question of one line and two words ends with the two
words alone on the second line. A :class:`Heading` narrows its wrapping
width to the narrowest that still needs as many lines, so the lines come out
about equally long. Fixed phrases are kept whole by the catalogue, which
joins their words with non-breaking spaces (U+00A0): Kivy breaks lines only
at ordinary spaces.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.uix.label import Label

# Binary-search steps for the balanced width: 1/128 of the width is finer
# than a glyph at heading sizes.
_STEPS = 7


def wrapped_lines(word_widths: list[float], space: float, width: float) -> int:
    """How many lines greedy wrapping makes of words this wide, at ``width``."""
    lines, used = 1, 0.0
    for w in word_widths:
        if used and used + space + w > width:
            lines, used = lines + 1, w
        else:
            used = used + space + w if used else w
    return lines


def balanced_width(word_widths: list[float], space: float, width: float) -> float:
    """The narrowest width at most ``width`` that wraps into no more lines
    than ``width`` itself does (never narrower than the widest word)."""
    if not word_widths or width <= 0:
        return width
    lines = wrapped_lines(word_widths, space, width)
    if lines <= 1:
        return width
    low, high = max(word_widths), width
    for _ in range(_STEPS):
        middle = (low + high) / 2
        if wrapped_lines(word_widths, space, middle) > lines:
            low = middle
        else:
            high = middle
    return high


class Heading(Label):
    """A centred heading whose lines are balanced (see the module's notes)."""

    def __init__(self, **kwargs):
        self._balance_soon = Clock.create_trigger(self._balance)
        super().__init__(**kwargs)
        self.bind(width=self._balance_soon, text=self._balance_soon, font_size=self._balance_soon,
                  bold=self._balance_soon, font_name=self._balance_soon)
        self._balance()

    def _balance(self, *_args) -> None:
        if self.width <= 1 or not self.text:
            self.text_size = (max(1, self.width), None)
            return
        measure = CoreLabel(font_size=self.font_size, font_name=self.font_name, bold=self.bold)
        words = []
        for paragraph in self.text.split("\n"):
            words.append([measure.get_extents(word)[0] for word in paragraph.split(" ") if word])
        space = measure.get_extents(" ")[0]
        # Each paragraph (an explicit line break) is balanced on its own; the
        # widest result is the wrapping width of the whole heading.
        width = max(balanced_width(w, space, self.width) for w in words if w) if any(words) else self.width
        # A pixel of slack: Kivy's own measure of a line may round up.
        self.text_size = (min(self.width, width + 2), None)
