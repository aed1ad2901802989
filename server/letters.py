"""The letters the commune sends citizens: an apology after a follow-up case,
a thank-you for a comment (rules only; the pages are in :mod:`server.web`).

Each letter issued is registered (:mod:`server.store.letters`): its kind,
the case or comment it answers, its number within the year, who issued it
and when. The periodic reports count them (:func:`count_issued`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from server.clock import utc_text
from server.store import letters as stored

__all__ = ["APOLOGY", "THANKS", "KINDS", "count_issued"]

APOLOGY = "apology"
THANKS = "thanks"
KINDS = (APOLOGY, THANKS)


def count_issued(engine: Engine, start_utc: datetime, end_utc: datetime) -> dict[str, int]:
    """How many letters of each kind (``apology``, ``thanks``) were issued
    from ``start_utc`` (included) to ``end_utc`` (excluded); both aware datetimes."""
    with engine.begin() as conn:
        found = stored.count_by_kind(conn, utc_text(start_utc), utc_text(end_utc))
    return {kind: found.get(kind, 0) for kind in KINDS}
