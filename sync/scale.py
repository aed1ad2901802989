"""Rating scales and the scores computed from them.

The tablet uses them to know which levels to show and which count as low, and
for the officer's day; the server's reports are to count by the same levels.
Levels are named by stable keys; their wording lives in each end's catalogues.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Level", "Scale", "SCALES", "scale_for", "Tally", "MIN_RATINGS_TO_JUDGE"]


@dataclass(frozen=True)
class Level:
    """One answer on a scale. ``score`` is 1 for the worst, ``scale`` for the best."""

    key: str
    score: int
    satisfied: bool
    """Counts towards the satisfaction rate (the provincial "hài lòng" share)."""
    low: bool
    """Asks the citizen for reasons and offers a call-back."""
    colour: tuple[float, float, float]


_VERY_SATISFIED = ("very_satisfied", True, False, (0.13, 0.59, 0.25))
_SATISFIED = ("satisfied", True, False, (0.45, 0.72, 0.2))
_NEUTRAL = ("neutral", False, True, (0.96, 0.7, 0.05))
_DISSATISFIED = ("dissatisfied", False, True, (0.91, 0.42, 0.1))
_VERY_DISSATISFIED = ("very_dissatisfied", False, True, (0.8, 0.15, 0.15))

# Worst first. 3 levels are what provincial one-stop reports count; 4 has no
# middle (HappyOrNot); 5 is the portals' scale.
_LEVELS_BY_SIZE = {
    3: (_DISSATISFIED, _SATISFIED, _VERY_SATISFIED),
    4: (_VERY_DISSATISFIED, _DISSATISFIED, _SATISFIED, _VERY_SATISFIED),
    5: (_VERY_DISSATISFIED, _DISSATISFIED, _NEUTRAL, _SATISFIED, _VERY_SATISFIED),
}


@dataclass(frozen=True)
class Scale:
    """An ordered set of levels, worst first."""

    size: int
    levels: tuple[Level, ...]

    def level(self, score: int) -> Level:
        """The level with that score (1 = worst)."""
        if not 1 <= score <= self.size:
            raise ValueError(f"score {score} is outside the {self.size}-level scale")
        return self.levels[score - 1]

    @property
    def best_first(self) -> tuple[Level, ...]:
        """Levels in the order a citizen reads them, best on the left."""
        return tuple(reversed(self.levels))


SCALES = {
    size: Scale(
        size,
        tuple(
            Level(key, score, satisfied, low, colour)
            for score, (key, satisfied, low, colour) in enumerate(levels, start=1)
        ),
    )
    for size, levels in _LEVELS_BY_SIZE.items()
}


def scale_for(size: int) -> Scale:
    """The scale with that many levels (3, 4 or 5)."""
    try:
        return SCALES[size]
    except KeyError:
        raise ValueError(f"no {size}-level scale; use 3, 4 or 5") from None


# Fewer ratings than this and a rate is shown as "too few to judge".
MIN_RATINGS_TO_JUDGE = 20


@dataclass(frozen=True)
class Tally:
    """Counts of ratings by level key, and the figures derived from them."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def satisfied_count(self) -> int:
        """Ratings at a satisfied level, whatever scale they were given on."""
        return sum(self.counts.get(key, 0) for key in ("very_satisfied", "satisfied"))

    @property
    def satisfaction_rate(self) -> float | None:
        """Share of satisfied ratings, or ``None`` when there are none."""
        return self.satisfied_count() / self.total if self.total else None

    @property
    def enough_to_judge(self) -> bool:
        """Whether the rate rests on enough ratings to rank or judge by."""
        return self.total >= MIN_RATINGS_TO_JUDGE
