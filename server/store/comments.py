"""The queries of citizens' comments and suggestions, of the posts counted
for the public forms' limit per address, and of the forms' server key
(:mod:`server.comments` holds the rules)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal_column, select, update

from server.store import settings as stored_settings
from server.store import tables

__all__ = [
    "FORM_KEY_SETTING", "form_key", "rating_for_comment", "add_comment", "comment_row", "comment_of_rating",
    "comment_page", "comment_count", "phone_of", "erase", "erase_created_before", "add_post", "posts_since",
    "forget_posts_before",
]

FORM_KEY_SETTING = "comment_form_key"
"""The settings row holding the server key of the public forms (address digests)."""

_RATING = literal_column("'rating'")

# What a comment's listing shows: never the phone number nor the address digest.
_LISTED = (
    tables.comments.c.id, tables.comments.c.kind, tables.comments.c.rating_uuid, tables.comments.c.text,
    tables.comments.c.name, tables.comments.c.callback_requested, tables.comments.c.created_at,
    tables.comments.c.erased_at,
)


def form_key(conn: Connection, *, stamp: str) -> bytes:
    """The server key of the public forms, made on first use."""
    stored = stored_settings.stored_settings(conn).get(FORM_KEY_SETTING)
    if isinstance(stored, str) and len(stored) >= 32:
        return bytes.fromhex(stored)
    key = secrets.token_hex(32)
    stored_settings.put_setting(conn, FORM_KEY_SETTING, key, stamp=stamp)
    return bytes.fromhex(key)


def rating_for_comment(conn: Connection, rating_uuid: str) -> dict[str, Any] | None:
    """A stored rating as the comment form needs it (with its comment token),
    or None when the server has not received it."""
    records = tables.records
    row = conn.execute(
        select(records.c.uuid, records.c.officer_id, records.c.counter_id, records.c.level, records.c.score,
               records.c.scale, records.c.corrected_time, records.c.comment_token)
        .where(records.c.uuid == rating_uuid, records.c.kind == _RATING)
    ).mappings().first()
    return dict(row) if row is not None else None


def add_comment(conn: Connection, **values: Any) -> int:
    """Insert a comment; returns its id."""
    return conn.execute(insert(tables.comments).values(**values)).inserted_primary_key[0]


def comment_row(conn: Connection, comment_id: int) -> dict[str, Any] | None:
    """One comment, without its phone number or address digest."""
    row = conn.execute(select(*_LISTED).where(tables.comments.c.id == comment_id)).mappings().first()
    return dict(row) if row else None


def comment_of_rating(conn: Connection, rating_uuid: str) -> int | None:
    """The id of the comment already given on a rating, if any."""
    return conn.execute(select(tables.comments.c.id).where(tables.comments.c.rating_uuid == rating_uuid)).scalar()


def comment_page(conn: Connection, kind: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """Comments of one kind, newest first, with their rating's officer,
    level and time (None for a suggestion). Never the phone number."""
    comments, records = tables.comments, tables.records
    query = (
        select(*_LISTED, records.c.officer_id, records.c.counter_id, records.c.level, records.c.score,
               records.c.scale, records.c.corrected_time)
        .select_from(comments.outerjoin(records, records.c.uuid == comments.c.rating_uuid))
        .where(comments.c.kind == kind)
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
        .offset(offset).limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def comment_count(conn: Connection, kind: str) -> int:
    """How many comments of one kind there are."""
    query = select(func.count()).select_from(tables.comments).where(tables.comments.c.kind == kind)
    return int(conn.execute(query).scalar_one())


def phone_of(conn: Connection, comment_id: int) -> str | None:
    """A comment's call-back number (only stored with consent)."""
    return conn.execute(select(tables.comments.c.phone).where(tables.comments.c.id == comment_id)).scalar()


def erase(conn: Connection, comment_id: int, *, at: str, by: str | None) -> bool:
    """Forget a comment's text, name and phone number (the row stays, so the
    rating still counts as commented on); whether it was there to erase."""
    comments = tables.comments
    done = conn.execute(update(comments).where(comments.c.id == comment_id, comments.c.erased_at.is_(None))
                        .values(text=None, name=None, phone=None, erased_at=at, erased_by=by))
    return done.rowcount > 0


def erase_created_before(conn: Connection, before: str, *, at: str) -> int:
    """Erase every comment written before ``before``; how many were."""
    comments = tables.comments
    done = conn.execute(update(comments).where(comments.c.created_at < before, comments.c.erased_at.is_(None))
                        .values(text=None, name=None, phone=None, erased_at=at, erased_by=None))
    return done.rowcount


def add_post(conn: Connection, address_hash: str, at: str) -> None:
    """Count one post to a public form from an address."""
    conn.execute(insert(tables.comment_posts).values(address_hash=address_hash, at=at))


def posts_since(conn: Connection, address_hash: str, since: str) -> int:
    """Posts from an address after ``since``."""
    posts = tables.comment_posts
    query = select(func.count()).where(posts.c.address_hash == address_hash, posts.c.at > since)
    return int(conn.execute(query).scalar_one())


def forget_posts_before(conn: Connection, before: str) -> None:
    """Drop the counted posts older than ``before`` (no longer needed for the limit)."""
    conn.execute(delete(tables.comment_posts).where(tables.comment_posts.c.at < before))
