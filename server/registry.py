"""The devices a commune server knows: pairing (RFC 8628 device
authorization), approval, revocation, the secrets that authenticate their
requests, and their health.

The polling rules of RFC 8628 section 3.5 are in :func:`poll_decision`, a
plain function; :class:`DeviceRegistry` applies them, keeping the state in
the database through :mod:`server.store.devices`. Its clock is given to it,
so pairing expiry and polling intervals can be tested without waiting.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from server.callback_numbers import public_key_text
from server.clock import Clock, utc_now, utc_text
from server.seals import SEAL_PROBLEMS, register_key
from server.store import devices as stored_devices
from server.store import findings as stored_findings
from server.store import read_transaction, write_transaction
from server.store import seals as stored_seals
from server.store.home_visits import HOME_DEVICE_ID
from sync import wire
from sync.protocol import ErrorCode

__all__ = [
    "USER_CODE_ALPHABET",
    "PairingError",
    "DeviceCode",
    "DeviceRegistry",
    "poll_decision",
    "normalise_user_code",
    "visible_text",
    "DEVICE_ACTIVE",
]

# RFC 8628 section 6.1: consonants only, no look-alikes, no words spelt by accident.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
SLOW_DOWN_STEP_S = 5
# Problems that mean the chain itself is not intact (as opposed to, say, a foreign record).
# A resolved finding (a gap whose records all arrived) no longer counts.
CHAIN_PROBLEMS = {"gap", "bad_hash", "broken_link", "duplicate_seq", "conflict", "time_regression",
                  *SEAL_PROBLEMS}
DEVICE_ACTIVE = ErrorCode.DEVICE_ACTIVE
"""The refusal of an approval that would replace an active device's secret
without the technician saying so."""
# Characters that move a terminal's cursor, change its colours or reorder
# text (bidirectional overrides) instead of being read: shown as escapes.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def visible_text(text: str | None) -> str:
    """Text from an anonymous request (a pairing label, an app version) as it
    may be printed or shown: every control, format or unassigned character
    written as an escape (``\\x1b``, ``\\u202e``), a backslash doubled so an
    escape cannot be faked. ``None`` is the empty string."""
    if not text:
        return ""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in _INVISIBLE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


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
    denied one ``access_denied``, a code still waiting ``authorization_pending``,
    a code whose secret was already handed over ``invalid_grant``.
    """
    if now >= expires_at:
        return ErrorCode.EXPIRED_TOKEN, interval_s
    if status == "denied":
        return ErrorCode.ACCESS_DENIED, interval_s
    if status == "delivered":  # the secret goes out once, to the first poll after approval
        return ErrorCode.INVALID_GRANT, interval_s
    # A little slack: the device's sleep and the network are not exact.
    if last_poll_at is not None and (now - last_poll_at).total_seconds() < interval_s * 0.8:
        return ErrorCode.SLOW_DOWN, interval_s + SLOW_DOWN_STEP_S
    if status == "pending":
        return ErrorCode.AUTHORIZATION_PENDING, interval_s
    return None, interval_s


class DeviceRegistry:
    """Pairing requests and paired devices, in the server database.

    ``clock`` gives the current UTC time (the real one unless a test gives
    another): pairing expiry, polling intervals and revocation stamps follow it."""

    def __init__(self, engine: Engine, *, pair_interval_s: int = 5, pair_lifetime_s: int = 900,
                 clock: Clock = utc_now):
        self.engine = engine
        self.pair_interval_s = pair_interval_s
        self.pair_lifetime_s = pair_lifetime_s
        self.clock = clock

    # -- pairing ---------------------------------------------------------------

    def request_code(self, device_id: str, label: str | None, app_version: str | None) -> DeviceCode:
        """Open a pairing request for a device (RFC 8628 §3.1–3.2). The id of
        the server's own source of home ratings is never a tablet's."""
        if device_id == HOME_DEVICE_ID:
            raise PairingError(ErrorCode.MALFORMED, "this device id is reserved for the server's own records")
        now = self.clock()
        device_code = secrets.token_urlsafe(32)
        # A user code drawn by another request at the same moment fails the
        # insert on PostgreSQL; write_transaction runs this again with a new code.
        return write_transaction(self.engine, lambda conn: self._open_request(conn, device_code, device_id,
                                                                             label, app_version, now))

    def _open_request(self, conn: Connection, device_code: str, device_id: str, label: str | None,
                      app_version: str | None, now: datetime) -> DeviceCode:
        # Each new request clears the expired ones: the table holds only what
        # can still be approved or polled (its inflow is rate-limited).
        stored_devices.delete_expired_pairings(conn, utc_text(now))
        for _ in range(20):
            letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
            user_code = f"{letters[:4]}-{letters[4:]}"
            if not stored_devices.user_code_taken(conn, user_code):
                break
        else:  # pragma: no cover - 20^8 codes
            raise PairingError(ErrorCode.BUSY, "no free user code, try again")
        stored_devices.add_pairing(
            conn,
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
        return DeviceCode(device_code, user_code, self.pair_lifetime_s, self.pair_interval_s)

    def pending(self, user_code: str) -> dict[str, Any] | None:
        """The pairing request with that user code, if any (for the approval page)."""
        with read_transaction(self.engine) as conn:
            return stored_devices.pairing_by_user_code(conn, normalise_user_code(user_code))

    def sweep(self) -> int:
        """Delete the pairing requests past their expiry; returns how many."""
        return write_transaction(self.engine,
                                 lambda conn: stored_devices.delete_expired_pairings(conn, utc_text(self.clock())))

    def list_pairings(self) -> list[dict[str, Any]]:
        """Every pairing request still waiting and not expired, each with
        ``already_active``: its device id is a paired, active device, so
        approving it would give that id a new secret and lock the tablet
        holding the current one out."""
        with read_transaction(self.engine) as conn:
            rows = stored_devices.waiting_pairings(conn, utc_text(self.clock()))
            active = stored_devices.active_device_ids(conn, {r["device_id"] for r in rows})
        return [{**row, "already_active": row["device_id"] in active} for row in rows]

    def decide(self, user_code: str, approve: bool, *, replace_active: bool = False) -> dict[str, Any]:
        """Approve (or deny) a pairing request, as the technician does.

        Approving makes the device's secret; a device paired before (or
        revoked) gets a new one and is active again, its chain continuing.
        A request naming a device that is active now is approved only with
        ``replace_active`` (the technician knows the tablet was reset or
        replaced): else :data:`DEVICE_ACTIVE`, since anyone may ask in that
        device's name and approving would lock the real tablet out.
        """
        code = normalise_user_code(user_code)
        now = self.clock()
        # Two requests of the same device approved at once would both insert
        # it on PostgreSQL; run again, the loser finds it and updates it.
        return write_transaction(self.engine, lambda conn: self._decide(conn, code, approve, now, replace_active))

    def _decide(self, conn: Connection, code: str, approve: bool, now: datetime,
                replace_active: bool = False) -> dict[str, Any]:
        row = stored_devices.pairing_by_user_code(conn, code, for_update=True)
        if row is None:
            raise PairingError(ErrorCode.NOT_FOUND, f"no pairing request with code {code}")
        if row["expires_at"] <= utc_text(now):
            raise PairingError(ErrorCode.EXPIRED_TOKEN, f"code {code} has expired; pair again")
        if row["status"] != "pending":
            raise PairingError(ErrorCode.INVALID_GRANT, f"code {code} was already {row['status']}")
        if approve and not replace_active and stored_devices.active_device_ids(conn, {row["device_id"]}):
            raise PairingError(DEVICE_ACTIVE, f"device {visible_text(row['device_id'])} is already paired and "
                                              "active: approving gives it a new secret and locks out the tablet "
                                              "that holds the current one; approve only if that tablet was reset "
                                              "or replaced, and say so (--replace-active)")
        stored_devices.update_pairing(conn, row["id"], status="approved" if approve else "denied",
                                      decided_at=utc_text(now))
        if approve:
            stored_devices.activate_device(
                conn, row["device_id"], label=row["label"], app_version=row["app_version"],
                secret=secrets.token_urlsafe(32), status="active", paired_at=utc_text(now),
                revoked_at=None, revoked_reason=None,
            )
        return row

    def poll(self, device_code: str) -> dict[str, Any]:
        """Answer a device's poll (RFC 8628 §3.4–3.5): its id and secret once
        approved, else a :class:`PairingError` with the RFC's error code."""
        now = self.clock()

        def answer(conn: Connection) -> tuple[Any, str | None, int, str | None]:
            row = stored_devices.pairing_by_device_code(conn, _digest(device_code))
            if row is None:
                raise PairingError(ErrorCode.INVALID_GRANT, "unknown device code")
            last = datetime.fromisoformat(row["last_poll_at"]) if row["last_poll_at"] else None
            error, interval = poll_decision(
                row["status"], datetime.fromisoformat(row["expires_at"]), last, row["interval_s"], now
            )
            stored_devices.update_pairing(conn, row["id"], last_poll_at=utc_text(now), interval_s=interval)
            # Single use: only the poll that turns "approved" into "delivered" gets the secret.
            if error is None and not stored_devices.mark_delivered(conn, row["id"]):
                error = ErrorCode.INVALID_GRANT
            secret = stored_devices.device_secret(conn, row["device_id"]) if error is None else None
            return row, error, interval, secret

        row, error, interval, secret = write_transaction(self.engine, answer)
        if error is not None:
            raise PairingError(error, _POLL_DETAIL[error].format(interval=interval))
        # The key call-back numbers are sealed to: a tablet offers the call-back only once it holds it.
        return {"device_id": row["device_id"], "device_secret": secret, "server_time": utc_text(now),
                "callback_key": public_key_text(self.engine)}

    # -- devices ---------------------------------------------------------------

    def credentials(self, device_id: str) -> tuple[str, str] | None:
        """The device's secret and status (``active`` or ``revoked``), if it is known.

        Read without the write lock: authenticating a tablet's request never
        queues behind another tablet's upload (or anything else holding the
        lock); what the request then writes takes the lock in its own
        transaction."""
        with read_transaction(self.engine) as conn:
            return stored_devices.credentials(conn, device_id)

    def revoke(self, device_id: str, reason: str = "") -> None:
        """Refuse the device's uploads from now on. What it sent stays stored.
        (The server's own source of home ratings is no tablet: not found.)"""
        if device_id == HOME_DEVICE_ID:
            raise PairingError(ErrorCode.NOT_FOUND, f"no device {device_id}")
        done = write_transaction(self.engine, lambda conn: stored_devices.revoke_device(
            conn, device_id, at=utc_text(self.clock()), reason=reason or None))
        if not done:
            raise PairingError(ErrorCode.NOT_FOUND, f"no device {device_id}")

    def register_seal_key(self, device_id: str, first_seq: int, key: bytes) -> bool:
        """Keep a device's first sealing key (:func:`server.seals.register_key`):
        True when new, False for a repeat of the same registration."""
        return write_transaction(self.engine, lambda conn: register_key(conn, device_id, first_seq, key))

    def open_findings(self, per_device: int) -> dict[str, dict[str, Any]]:
        """Each tablet's unresolved findings, by device id: the first
        ``per_device`` (``first``, oldest first) and how many are open
        (``count``). One query for all the tablets, for the devices page;
        the server's own source of home ratings is left out."""
        with read_transaction(self.engine) as conn:
            return stored_findings.open_findings(conn, per_device, leave_out=HOME_DEVICE_ID)

    def device_open_findings(self, device_id: str, *, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """One page (from 1) of a tablet's unresolved findings, oldest first,
        and how many are open, for the tablet's findings page."""
        with read_transaction(self.engine) as conn:
            return stored_findings.device_open_findings(conn, device_id, offset=(page - 1) * per_page,
                                                        limit=per_page)

    def health(self, device_id: str | None = None, *, with_findings: bool = True) -> list[dict[str, Any]]:
        """Each device's health (the contract's :class:`sync.wire.DeviceHealth`,
        as sent): last seen, app version, pending count, clock offset, chain
        status and findings. Tablets only: the server's own source of home
        ratings is left out."""
        with read_transaction(self.engine) as conn:
            rows = stored_devices.device_rows(conn, device_id)
            counts = stored_devices.findings_counts(conn)
            chain_counts = stored_devices.findings_counts(conn, CHAIN_PROBLEMS)
            unsealed = stored_seals.unsealed_counts(conn, device_id)
            out = []
            # The server's own source of home ratings is no tablet: its chain
            # is shown apart (server.home_visits), never as a silent tablet.
            for row in (r for r in rows if r["device_id"] != HOME_DEVICE_ID):
                findings = [] if not with_findings else [
                    wire.Finding(**{k: f[k] for k in ("seq", "uuid", "problem", "detail", "found_at", "resolved_at")})
                    for f in stored_devices.device_findings(conn, row["device_id"], limit=200)
                ]
                health = wire.DeviceHealth(
                    device_id=row["device_id"],
                    label=row["label"],
                    status=row["status"],
                    revoked_reason=row["revoked_reason"],
                    app_version=row["app_version"],
                    paired_at=row["paired_at"],
                    last_seen_at=row["last_seen_at"],
                    pending_count=row["pending_count"],
                    records_count=row["records_count"],
                    last_seq=row["head_seq"],
                    clock_offset_s=row["clock_offset_s"],
                    clock_checked_at=row["clock_checked_at"],
                    # Judged at ingest against the threshold the server runs with.
                    clock_off=bool(row["clock_off"]),
                    chain_status="flagged" if chain_counts.get(row["device_id"]) else "intact",
                    findings_count=counts.get(row["device_id"], 0),
                    findings=findings,
                    sealed_from_seq=row["seal_first_seq"],
                    # Never sealed: every record it sent is unsealed.
                    unsealed_count=(unsealed.get(row["device_id"], 0) if row["seal_first_seq"] is not None
                                    else row["records_count"]),
                )
                out.append(wire.to_wire(health))
        return out


_POLL_DETAIL = {
    ErrorCode.AUTHORIZATION_PENDING: "waiting for a technician to approve the code",
    ErrorCode.SLOW_DOWN: "polling too fast; wait {interval} s between polls",
    ErrorCode.EXPIRED_TOKEN: "the code has expired; start pairing again",
    ErrorCode.ACCESS_DENIED: "the technician refused this device",
    ErrorCode.INVALID_GRANT: "this device code was already used: the secret is handed over once; pair again",
}
