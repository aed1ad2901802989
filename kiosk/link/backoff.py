"""How long to wait before trying again: exponential backoff with full
jitter, never less than the server's ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["Backoff", "parse_retry_after"]


@dataclass
class Backoff:
    """Delays for successive failed attempts.

    Attempt ``n`` (1 for the first failure) waits a random time between 0 and
    ``min(cap_s, base_s * factor ** (n - 1))``: the randomness spreads out the
    tablets of a commune that all lost the server at the same moment, so they
    do not come back at the same moment too.
    """

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    max_retry_after_s: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """The longest wait for that attempt."""
        exponent = min(max(attempt - 1, 0), 60)  # no float overflow after months offline
        return min(self.cap_s, self.base_s * self.factor ** exponent)

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after the ``attempt``-th failure in a row."""
        wait = self.rng.uniform(0, self.ceiling(attempt))
        if retry_after_s is not None:
            # The server said when: never sooner, but a bogus huge value is capped.
            wait = max(wait, min(retry_after_s, self.max_retry_after_s))
        return wait


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
