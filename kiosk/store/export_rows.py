"""The export's reads: every rating with its details, from one snapshot.

:class:`RatingsSnapshot` holds one read transaction open, so the count and
every row come from the same state of the file whatever the kiosk commits
meanwhile (WAL lets it write). Rows are streamed one at a time, never held
all in memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import NamedTuple

from kiosk.store.database import StoreError, TabletDatabase
from sync.record import KIND_CORRECTION, KIND_DETAILS, KIND_RATING

__all__ = ["DetailsPart", "RatingRow", "RatingsSnapshot"]

# Each rating with its details records gathered as one JSON array. The
# subquery follows the rating_uuid index, one short look-up per rating, and
# the outer query walks the journal by its primary key: no sorting, no table
# of all details held in memory.
# A corrected rating (the citizen's "Chọn lại") counts at its correction's
# level; there is at most one correction per rating.
_ROWS_SQL = """
SELECT r.seq, r.uuid, r.device_time, r.officer_id, r.counter_id, r.level, r.score,
       r.scale, r.burst, r.simulated, r.device_id, r.hash,
       (SELECT json_array(c.level, c.score)
          FROM journal c WHERE c.rating_uuid = r.uuid AND c.kind = ? ORDER BY c.seq LIMIT 1) AS correction,
       (SELECT json_group_array(json_array(d.seq, json(d.reasons), d.callback_consent))
          FROM journal d WHERE d.rating_uuid = r.uuid AND d.kind = ?) AS details
  FROM journal r
 WHERE r.kind = ?
 ORDER BY r.seq
"""


class DetailsPart(NamedTuple):
    """What one details record added to a rating."""

    seq: int
    reasons: list[str] | None
    callback_consent: int | None
    """1 when a number was given with consent (the number is never read here)."""


class RatingRow(NamedTuple):
    """One rating as the export reads it, with its details records in sequence order."""

    seq: int
    uuid: str
    device_time: str
    officer_id: str | None
    counter_id: str | None
    level: str | None
    """The level that counts: the correction's, if the citizen chose again."""
    score: int | None
    scale: int | None
    burst: int | None
    simulated: int | None
    device_id: str | None
    hash: str
    details: list[DetailsPart]
    tapped_level: str | None = None
    """The first tap's level when a correction replaced it, else None."""


class RatingsSnapshot:
    """A read transaction over the ratings, used as a context manager.

    SQLite errors while reading become :class:`StoreError`.
    """

    def __init__(self, database: TabletDatabase):
        self.database = database
        self._conn = database.conn

    def __enter__(self) -> RatingsSnapshot:
        with _read_errors():
            self._conn.execute("BEGIN")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def count(self) -> int:
        """How many ratings the snapshot holds."""
        with _read_errors():
            return self._conn.execute("SELECT count(*) FROM journal WHERE kind = ?", [KIND_RATING]).fetchone()[0]

    def latest_counter(self) -> str | None:
        """The counter of the latest rating, if any."""
        with _read_errors():
            row = self._conn.execute(
                "SELECT counter_id FROM journal WHERE +kind = ? ORDER BY seq DESC LIMIT 1", [KIND_RATING]
            ).fetchone()
        return row[0] if row else None

    def rows(self) -> Iterator[RatingRow]:
        """Every rating in sequence order, streamed."""
        with _read_errors():
            params = [KIND_CORRECTION, KIND_DETAILS, KIND_RATING]
            for *columns, correction, details in self._conn.execute(_ROWS_SQL, params):
                parts = [DetailsPart(*part) for part in sorted(json.loads(details or "[]"))]
                row = RatingRow(*columns, parts)
                if correction is not None:
                    level, score = json.loads(correction)
                    row = row._replace(level=level, score=score, tapped_level=row.level)
                yield row


@contextmanager
def _read_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc
