"""The devices a commune server knows: pairing (RFC 8628 device
authorization), approval, revocation, the secrets that authenticate their
requests, and their health.

The polling rules of RFC 8628 section 3.5 are in :func:`poll_decision`, a
plain function; :class:`DeviceRegistry` keeps the state in the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from server import db
from server.clock import utc_text
from server.db import write_transaction
from sync.protocol import ErrorCode
from sync.record import GENESIS_HASH

__all__ = [
    "USER_CODE_ALPHABET",
    "PairingError",
    "DeviceCode",
    "DeviceRegistry",
    "poll_decision",
    "normalise_user_code",
]

# RFC 8628 section 6.1: consonants only, no look-alikes, no words spelt by accident.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
SLOW_DOWN_STEP_S = 5
# Problems that mean the chain itself is not intact (as opposed to, say, a foreign record).
# A resolved finding (a gap whose records all arrived) no longer counts.
CHAIN_PROBLEMS = {"gap", "bad_hash", "broken_link", "duplicate_seq", "conflict", "time_regression"}


class PairingError(Exception):
    """A pairing or device request that cannot be granted; ``code`` is an :class:`ErrorCode`."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class DeviceCode:
    """What a device gets when it asks to pair."""

    device_code: str
    user_code: str
    expires_in: int
    interval: int


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def normalise_user_code(text: str) -> str:
    """``abcd-efgh``, ``ABCDEFGH`` and ``abcd efgh`` all name the code ``ABCD-EFGH``."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def _digest(device_code: str) -> str:
    # Only a digest of the device code is kept: a copy of the database does not let anyone poll.
    return hashlib.sha256(device_code.encode("utf-8")).hexdigest()


def poll_decision(
    status: str,
    expires_at: datetime,
    last_poll_at: datetime | None,
    interval_s: int,
    now: datetime,
) -> tuple[str | None, int]:
    """RFC 8628 §3.5 for one poll: the error to answer (``None`` when the secret
    may be handed over) and the polling interval from now on.

    Polling sooner than the interval is answered ``slow_down`` and costs the
    device 5 more seconds of interval; an expired code is ``expired_token``, a
    denied one ``access_denied``, a code still waiting ``authorization_pending``.
    """
    if now >= expires_at:
        return ErrorCode.EXPIRED_TOKEN, interval_s
    if status == "denied":
        return ErrorCode.ACCESS_DENIED, interval_s
    # A little slack: the device's sleep and the network are not exact.
    if last_poll_at is not None and (now - last_poll_at).total_seconds() < interval_s * 0.8:
        return ErrorCode.SLOW_DOWN, interval_s + SLOW_DOWN_STEP_S
    if status == "pending":
        return ErrorCode.AUTHORIZATION_PENDING, interval_s
    return None, interval_s


class DeviceRegistry:
    """Pairing requests and paired devices, in the server database."""

    def __init__(self, engine: Engine, *, pair_interval_s: int = 5, pair_lifetime_s: int = 900):
        self.engine = engine
        self.pair_interval_s = pair_interval_s
        self.pair_lifetime_s = pair_lifetime_s

    # -- pairing ---------------------------------------------------------------

    def request_code(self, device_id: str, label: str | None, app_version: str | None) -> DeviceCode:
        """Open a pairing request for a device (RFC 8628 §3.1–3.2)."""
        now = now_utc()
        device_code = secrets.token_urlsafe(32)
        # A user code drawn by another request at the same moment fails the
        # insert on PostgreSQL; write_transaction runs this again with a new code.
        return write_transaction(self.engine, lambda conn: self._open_request(conn, device_code, device_id,
                                                                             label, app_version, now))

    def _open_request(self, conn: Connection, device_code: str, device_id: str, label: str | None,
                      app_version: str | None, now: datetime) -> DeviceCode:
        for _ in range(20):
            letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
            user_code = f"{letters[:4]}-{letters[4:]}"
            taken = conn.execute(
                select(db.pairings.c.id).where(db.pairings.c.user_code == user_code)
            ).first()
            if taken is None:
                break
        else:  # pragma: no cover - 20^8 codes
            raise PairingError(ErrorCode.BUSY, "no free user code, try again")
        conn.execute(
            insert(db.pairings).values(
                device_code_digest=_digest(device_code),
                user_code=user_code,
                device_id=device_id,
                label=label,
                app_version=app_version,
                created_at=utc_text(now),
                expires_at=utc_text(now + timedelta(seconds=self.pair_lifetime_s)),
                interval_s=self.pair_interval_s,
                status="pending",
            )
        )
        return DeviceCode(device_code, user_code, self.pair_lifetime_s, self.pair_interval_s)

    def pending(self, user_code: str) -> dict[str, Any] | None:
        """The pairing request with that user code, if any (for the approval page)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(db.pairings).where(db.pairings.c.user_code == normalise_user_code(user_code))
            ).mappings().first()
        return dict(row) if row else None

    def list_pairings(self) -> list[dict[str, Any]]:
        """Every pairing request still waiting and not expired."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(db.pairings)
                .where(db.pairings.c.status == "pending", db.pairings.c.expires_at > utc_text(now_utc()))
                .order_by(db.pairings.c.id)
            ).mappings().all()
        return [dict(r) for r in rows]

    def decide(self, user_code: str, approve: bool) -> dict[str, Any]:
        """Approve (or deny) a pairing request, as the technician does.

        Approving makes the device's secret; a device paired before (or
        revoked) gets a new one and is active again, its chain continuing.
        """
        code = normalise_user_code(user_code)
        now = now_utc()
        # Two requests of the same device approved at once would both insert
        # it on PostgreSQL; run again, the loser finds it and updates it.
        return write_transaction(self.engine, lambda conn: self._decide(conn, code, approve, now))

    def _decide(self, conn: Connection, code: str, approve: bool, now: datetime) -> dict[str, Any]:
        row = conn.execute(
            select(db.pairings).where(db.pairings.c.user_code == code).with_for_update()
        ).mappings().first()
        if row is None:
            raise PairingError(ErrorCode.NOT_FOUND, f"no pairing request with code {code}")
        if row["expires_at"] <= utc_text(now):
            raise PairingError(ErrorCode.EXPIRED_TOKEN, f"code {code} has expired; pair again")
        if row["status"] != "pending":
            raise PairingError(ErrorCode.INVALID_GRANT, f"code {code} was already {row['status']}")
        conn.execute(
            update(db.pairings)
            .where(db.pairings.c.id == row["id"])
            .values(status="approved" if approve else "denied", decided_at=utc_text(now))
        )
        if approve:
            self._activate(conn, row, now)
        return dict(row)

    def _activate(self, conn, pairing: Any, now: datetime) -> None:
        secret = secrets.token_urlsafe(32)
        existing = conn.execute(
            select(db.devices.c.device_id).where(db.devices.c.device_id == pairing["device_id"])
        ).first()
        values = dict(
            label=pairing["label"], app_version=pairing["app_version"], secret=secret,
            status="active", paired_at=utc_text(now), revoked_at=None, revoked_reason=None,
        )
        if existing:
            conn.execute(update(db.devices).where(db.devices.c.device_id == pairing["device_id"]).values(**values))
        else:
            conn.execute(insert(db.devices).values(
                device_id=pairing["device_id"], head_seq=0, head_hash=GENESIS_HASH,
                records_count=0, clock_off=False, **values,
            ))

    def poll(self, device_code: str) -> dict[str, Any]:
        """Answer a device's poll (RFC 8628 §3.4–3.5): its id and secret once
        approved, else a :class:`PairingError` with the RFC's error code."""
        now = now_utc()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(db.pairings)
                .where(db.pairings.c.device_code_digest == _digest(device_code))
                .with_for_update()
            ).mappings().first()
            if row is None:
                raise PairingError(ErrorCode.INVALID_GRANT, "unknown device code")
            last = datetime.fromisoformat(row["last_poll_at"]) if row["last_poll_at"] else None
            error, interval = poll_decision(
                row["status"], datetime.fromisoformat(row["expires_at"]), last, row["interval_s"], now
            )
            conn.execute(
                update(db.pairings)
                .where(db.pairings.c.id == row["id"])
                .values(last_poll_at=utc_text(now), interval_s=interval,
                        status="delivered" if error is None else row["status"])
            )
            if error is None:
                device = conn.execute(
                    select(db.devices).where(db.devices.c.device_id == row["device_id"])
                ).mappings().first()
        if error is not None:
            raise PairingError(error, _POLL_DETAIL[error].format(interval=interval))
        return {"device_id": device["device_id"], "device_secret": device["secret"],
                "server_time": utc_text(now)}

    # -- devices ---------------------------------------------------------------

    def credentials(self, device_id: str) -> tuple[str, str] | None:
        """The device's secret and status (``active`` or ``revoked``), if it is known."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(db.devices.c.secret, db.devices.c.status).where(db.devices.c.device_id == device_id)
            ).first()
        return (row[0], row[1]) if row else None

    def revoke(self, device_id: str, reason: str = "") -> None:
        """Refuse the device's uploads from now on. What it sent stays stored."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(db.devices)
                .where(db.devices.c.device_id == device_id)
                .values(status="revoked", revoked_at=utc_text(now_utc()), revoked_reason=reason or None)
            )
        if done.rowcount == 0:
            raise PairingError(ErrorCode.NOT_FOUND, f"no device {device_id}")

    def health(self, device_id: str | None = None, *, with_findings: bool = True) -> list[dict[str, Any]]:
        """Each device's health: last seen, app version, pending count, clock
        offset, chain status and findings."""
        with self.engine.begin() as conn:
            query = select(db.devices).order_by(db.devices.c.device_id)
            if device_id is not None:
                query = query.where(db.devices.c.device_id == device_id)
            rows = conn.execute(query).mappings().all()
            counts = dict(
                conn.execute(
                    select(db.findings.c.device_id, func.count()).group_by(db.findings.c.device_id)
                ).all()
            )
            chain_counts = dict(
                conn.execute(
                    select(db.findings.c.device_id, func.count())
                    .where(db.findings.c.problem.in_(CHAIN_PROBLEMS), db.findings.c.resolved_at.is_(None))
                    .group_by(db.findings.c.device_id)
                ).all()
            )
            out = []
            for row in rows:
                item = {
                    "device_id": row["device_id"],
                    "label": row["label"],
                    "status": row["status"],
                    "revoked_reason": row["revoked_reason"],
                    "app_version": row["app_version"],
                    "paired_at": row["paired_at"],
                    "last_seen_at": row["last_seen_at"],
                    "pending_count": row["pending_count"],
                    "records_count": row["records_count"],
                    "last_seq": row["head_seq"],
                    "clock_offset_s": row["clock_offset_s"],
                    "clock_checked_at": row["clock_checked_at"],
                    # Judged at ingest against the threshold the server runs with.
                    "clock_off": bool(row["clock_off"]),
                    "chain_status": "flagged" if chain_counts.get(row["device_id"]) else "intact",
                    "findings_count": counts.get(row["device_id"], 0),
                    "findings": [],
                }
                if with_findings:
                    item["findings"] = [
                        {k: f[k] for k in ("seq", "uuid", "problem", "detail", "found_at", "resolved_at")}
                        for f in conn.execute(
                            select(db.findings)
                            .where(db.findings.c.device_id == row["device_id"])
                            .order_by(db.findings.c.id)
                            .limit(200)
                        ).mappings()
                    ]
                out.append(item)
        return out


_POLL_DETAIL = {
    ErrorCode.AUTHORIZATION_PENDING: "waiting for a technician to approve the code",
    ErrorCode.SLOW_DOWN: "polling too fast; wait {interval} s between polls",
    ErrorCode.EXPIRED_TOKEN: "the code has expired; start pairing again",
    ErrorCode.ACCESS_DENIED: "the technician refused this device",
}
