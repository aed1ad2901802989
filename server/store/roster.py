"""The queries of the roster the server pushes: the one current document
(with its ETag) and the officers' portraits."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sqlalchemy import Connection, delete, insert, select

from server.store import tables

__all__ = ["replace_roster", "current_roster", "portrait", "all_portraits"]


def replace_roster(conn: Connection, *, body: str, etag: str, updated_at: str,
                   images: Mapping[str, tuple[bytes, str]]) -> None:
    """Replace the roster document and every portrait (``{officer_id: (bytes, content type)}``)."""
    conn.execute(delete(tables.roster))
    conn.execute(insert(tables.roster).values(id=1, etag=etag, body=body, updated_at=updated_at))
    conn.execute(delete(tables.portraits))
    if images:
        conn.execute(insert(tables.portraits), [
            dict(officer_id=oid, content=content, content_type=ctype, sha256=hashlib.sha256(content).hexdigest())
            for oid, (content, ctype) in images.items()
        ])


def current_roster(conn: Connection) -> tuple[str, str] | None:
    """The served body and its ETag, or ``None`` before any import."""
    row = conn.execute(select(tables.roster.c.body, tables.roster.c.etag).where(tables.roster.c.id == 1)).first()
    return (row[0], row[1]) if row else None


def portrait(conn: Connection, officer_id: str) -> tuple[bytes, str, str] | None:
    """An officer's portrait: bytes, content type and the SHA-256 of the bytes."""
    row = conn.execute(
        select(tables.portraits.c.content, tables.portraits.c.content_type, tables.portraits.c.sha256)
        .where(tables.portraits.c.officer_id == officer_id)
    ).first()
    return (bytes(row[0]), row[1], row[2]) if row else None


def all_portraits(conn: Connection) -> dict[str, tuple[bytes, str]]:
    """Every portrait: ``{officer_id: (bytes, content type)}``."""
    rows = conn.execute(select(tables.portraits.c.officer_id, tables.portraits.c.content,
                               tables.portraits.c.content_type))
    return {row[0]: (bytes(row[1]), row[2]) for row in rows}
