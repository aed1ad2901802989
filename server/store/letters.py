"""The queries of the letters the commune issues (:mod:`server.letters`
holds the rules): the register of letters (kind, what it answers, its number
in the year, who issued it and when) and the visit a letter recalls.

The register holds no personal data: a letter is rebuilt from the case or
comment it answers each time it is downloaded.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, insert, select

from server.store import tables
from sync.record import KIND_RATING

__all__ = ["letter_for", "letters_for_comments", "add_letter", "last_number", "count_by_kind", "visit_of_rating"]


def letter_for(conn: Connection, kind: str, *, case_id: int | None = None,
               comment_id: int | None = None) -> dict[str, Any] | None:
    """The letter of ``kind`` already issued for a case or a comment, if any."""
    letters = tables.letters
    key = letters.c.case_id == case_id if case_id is not None else letters.c.comment_id == comment_id
    row = conn.execute(select(letters).where(letters.c.kind == kind, key)).mappings().first()
    return dict(row) if row else None


def letters_for_comments(conn: Connection, kind: str, comment_ids: Collection[int]) -> list[dict[str, Any]]:
    """The letters of ``kind`` issued for these comments (a page of the list: a few dozen ids)."""
    if not comment_ids:
        return []
    letters = tables.letters
    query = select(letters).where(letters.c.kind == kind, letters.c.comment_id.in_(sorted(comment_ids)))
    return [dict(row) for row in conn.execute(query).mappings()]


def last_number(conn: Connection, kind: str, year: int) -> int:
    """The highest number given to a letter of ``kind`` in ``year`` (0: none yet)."""
    letters = tables.letters
    query = select(func.max(letters.c.number)).where(letters.c.kind == kind, letters.c.year == year)
    return int(conn.execute(query).scalar() or 0)


def add_letter(conn: Connection, **values: Any) -> dict[str, Any]:
    """Register a letter; its row (with its id)."""
    letter_id = conn.execute(insert(tables.letters).values(**values)).inserted_primary_key[0]
    return {**values, "id": int(letter_id)}


def count_by_kind(conn: Connection, start: str, end: str) -> dict[str, int]:
    """How many letters of each kind were issued from ``start`` (included)
    to ``end`` (excluded), both UTC instant text."""
    letters = tables.letters
    query = (select(letters.c.kind, func.count()).where(letters.c.issued_at >= start, letters.c.issued_at < end)
             .group_by(letters.c.kind))
    return {str(kind): int(count) for kind, count in conn.execute(query)}


def visit_of_rating(conn: Connection, rating_uuid: str) -> dict[str, Any] | None:
    """When and where a rating was given: its corrected time, officer,
    counter, and its scale and level."""
    records = tables.records
    query = (select(records.c.corrected_time, records.c.officer_id, records.c.counter_id, records.c.scale,
                    records.c.level)
             .where(records.c.kind == KIND_RATING, records.c.uuid == rating_uuid))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None
