"""The queries of ratings given at home (:mod:`server.home_visits` holds the
rules): the visits and their one-time links, and the reserved source whose
chain the server writes itself.

A home rating is stored like a tablet's, in ``records``, under the reserved
device id :data:`HOME_DEVICE_ID`. No tablet can hold that id: it is outside
the pattern the wire admits for a device id (``sync.wire.ID_PATTERN``), so a
pairing request naming it is refused before it reaches the registry (which
refuses it too), and its row's status, :data:`HOME_STATUS`, is not
``active``, so no signed request is ever taken in its name.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, update

from server.store import tables
from sync.record import GENESIS_HASH, KIND_RATING

__all__ = [
    "HOME_DEVICE_ID", "HOME_STATUS", "home_device", "add_home_device", "add_visit", "visit_by_digest",
    "visit_by_id", "claim_visit", "claim_details", "recent_visits", "rating_of",
]

HOME_DEVICE_ID = "@home-visits"
"""The source of every rating given at home: a device id no tablet can have."""
HOME_STATUS = "server"
"""Its row's status: written by the server itself (a tablet's is ``active`` or ``revoked``)."""


def home_device(conn: Connection) -> Mapping[str, Any] | None:
    """The reserved source's ``devices`` row, if it was made."""
    return conn.execute(select(tables.devices).where(tables.devices.c.device_id == HOME_DEVICE_ID)).mappings().first()


def add_home_device(conn: Connection, *, label: str, app_version: str, stamp: str) -> None:
    """Make the reserved source's row: an empty chain, a secret nobody is
    ever given (the column cannot be empty), never seen as a tablet."""
    conn.execute(insert(tables.devices).values(
        device_id=HOME_DEVICE_ID, label=label, app_version=app_version, secret=secrets.token_urlsafe(32),
        status=HOME_STATUS, paired_at=stamp, clock_off=False, head_seq=0, head_hash=GENESIS_HASH,
        records_count=0, pending_count=0,
    ))


def add_visit(conn: Connection, **values: Any) -> int:
    """Keep a new visit; its id."""
    return conn.execute(insert(tables.home_visits).values(**values)).inserted_primary_key[0]


def visit_by_digest(conn: Connection, token_digest: str) -> dict[str, Any] | None:
    """The visit whose link's token has this digest."""
    row = conn.execute(select(tables.home_visits).where(tables.home_visits.c.token_digest == token_digest)
                       ).mappings().first()
    return dict(row) if row else None


def visit_by_id(conn: Connection, visit_id: int) -> dict[str, Any] | None:
    """One visit by its id."""
    row = conn.execute(select(tables.home_visits).where(tables.home_visits.c.id == visit_id)).mappings().first()
    return dict(row) if row else None


def claim_visit(conn: Connection, visit_id: int, *, now: str, rating_uuid: str, details_digest: str | None) -> bool:
    """Spend a visit's link on a rating: only if it is still unused and not
    expired (one statement, so two posts at once cannot both win)."""
    visits = tables.home_visits
    done = conn.execute(update(visits).where(visits.c.id == visit_id, visits.c.used_at.is_(None),
                                             visits.c.expires_at > now)
                        .values(used_at=now, rating_uuid=rating_uuid, details_digest=details_digest))
    return done.rowcount == 1


def claim_details(conn: Connection, visit_id: int, *, details_digest: str, now: str) -> bool:
    """Take a visit's one chance to add reasons: only with the key its rater
    holds, and only once."""
    visits = tables.home_visits
    done = conn.execute(update(visits).where(visits.c.id == visit_id, visits.c.details_digest == details_digest,
                                             visits.c.details_at.is_(None))
                        .values(details_at=now, details_digest=None))
    return done.rowcount == 1


def recent_visits(conn: Connection, *, officer_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest visits (one officer's, when given), newest first."""
    visits = tables.home_visits
    query = select(visits).order_by(visits.c.created_at.desc(), visits.c.id.desc()).limit(limit)
    if officer_id is not None:
        query = query.where(visits.c.officer_id == officer_id)
    return [dict(row) for row in conn.execute(query).mappings()]



def rating_of(conn: Connection, rating_uuid: str) -> dict[str, Any] | None:
    """The reserved source's rating of that UUID: its scale and level."""
    records = tables.records
    row = conn.execute(select(records.c.scale, records.c.level).where(
        records.c.uuid == rating_uuid, records.c.device_id == HOME_DEVICE_ID,
        records.c.kind == KIND_RATING)).mappings().first()
    return dict(row) if row else None
