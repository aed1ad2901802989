"""The people who use the commune dashboard: accounts and their roles,
passwords, sessions, login rate limiting and the audit log.

Rules only: the SQL is in :mod:`server.store.accounts`, the pages in
:mod:`server.web`. Passwords are hashed with argon2id (argon2-cffi) and never
stored, logged or audited. A session is a random token in a cookie; the
database keeps only its SHA-256, with the session's CSRF token beside it.

Roles (who may see what is a dependency of every route, :func:`server.web.auth.require`):

* ``admin`` — the technician: accounts, devices, roster, settings, audit log;
* ``leader`` — chairman and vice-chairmen: sees everything, exports;
* ``officer`` — sees only their own figures (``officer_id`` ties the account to the roster);
* ``observer`` — MTTQ / inspection: read-only scores and reports, no personal data.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine

from server.clock import Clock, utc_now, utc_text
from server.store import accounts as stored
from server.store import read_transaction, write_transaction

__all__ = [
    "Role", "Account", "Session", "AccountError", "LoginRefused", "AuditEntry", "AccountBook",
    "MIN_PASSWORD_CHARS", "SESSION_LIFETIME", "USERNAME_FAILURES", "ADDRESS_FAILURES",
    "hash_password", "password_matches", "lockout_until", "normalise_username", "token_digest",
]

MIN_PASSWORD_CHARS = 10
SESSION_LIFETIME = timedelta(hours=12)
"""A session ends 12 hours after the login, whatever happens: one working day."""
USERNAME_FAILURES = 5
"""Failed logins in a row for one username before it is locked for a while."""
ADDRESS_FAILURES = 20
"""Failed logins in a row from one address (any usernames) before it is locked:
higher, since a whole office may share one address."""
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
FAILURE_MEMORY = timedelta(hours=24)
"""Failures older than this no longer count towards a lock."""

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so a wrong username takes as
# long as a wrong password and the timing does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    """What an account may do on the dashboard."""

    ADMIN = "admin"
    LEADER = "leader"
    OFFICER = "officer"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Account:
    """A dashboard account (never its password hash)."""

    id: int
    username: str
    role: Role
    display_name: str | None = None
    officer_id: str | None = None
    """An officer's roster entry; None for every other role."""
    active: bool = True
    created_at: str | None = None

    @property
    def name(self) -> str:
        """What the pages call this person."""
        return self.display_name or self.username


@dataclass(frozen=True)
class Session:
    """A logged-in browser: its account and the CSRF token its forms must carry."""

    account: Account
    csrf: str
    expires_at: str
    token_digest: str


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: str
    actor: str | None
    action: str
    target: str | None
    detail: str
    address: str | None


class AccountError(ValueError):
    """A change to accounts that cannot be made; ``code`` names the problem
    for the pages' translations (``accounts.error.<code>``)."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class LoginRefused(Exception):
    """A login that did not succeed. ``locked_until`` is set when the
    username or the address is locked (the password was not even checked)."""

    def __init__(self, locked_until: datetime | None = None):
        super().__init__("locked" if locked_until else "wrong username or password")
        self.locked_until = locked_until

    def minutes_left(self, now: datetime) -> int:
        """Whole minutes until the lock ends (at least 1)."""
        if self.locked_until is None:
            return 0
        return max(1, -(-int((self.locked_until - now).total_seconds()) // 60))


def hash_password(password: str) -> str:
    """The argon2id hash stored for a password."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one hashed, in the hash's own time."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_username(text: str) -> str:
    """Usernames compare without case or surrounding spaces."""
    return text.strip().lower()


def lockout_until(failures: int, last_failure: datetime | None, threshold: int) -> datetime | None:
    """When a lock ends after ``failures`` failed logins in a row, the latest
    at ``last_failure``; None when there is no lock.

    From the ``threshold``-th failure on, each failure locks for twice as long
    as the one before: 1 minute, 2, 4 … up to an hour."""
    if failures < threshold or last_failure is None:
        return None
    lock = min(FIRST_LOCK * 2 ** (failures - threshold), LONGEST_LOCK)
    return last_failure + lock


def _account(row: dict[str, Any], prefix: str = "") -> Account:
    return Account(
        id=row[f"{prefix}id"], username=row[f"{prefix}username"], role=Role(row[f"{prefix}role"]),
        display_name=row[f"{prefix}display_name"], officer_id=row[f"{prefix}officer_id"],
        active=bool(row[f"{prefix}active"]), created_at=row[f"{prefix}created_at"],
    )


class AccountBook:
    """Accounts, sessions, login attempts and the audit log, in the server
    database. ``clock`` gives the UTC time (sessions' expiry, locks, stamps).

    Every change is written to the audit log in the same transaction as the
    change itself: ``actor`` is the username of whoever made it (None for the
    command line), ``address`` where the request came from."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now):
        self.engine = engine
        self.clock = clock

    # -- accounts ---------------------------------------------------------------

    def create(self, username: str, password: str, role: Role | str, *, display_name: str | None = None,
               officer_id: str | None = None, actor: str | None = None, address: str | None = None) -> Account:
        """A new account. An officer's account must name its roster entry
        (``officer_id``; the caller checks it is in the current roster)."""
        name = normalise_username(username)
        role = Role(role)
        if not name or len(name) > 64 or not all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name):
            raise AccountError("bad_username", "a username is 1 to 64 letters, digits, dots, dashes or underscores")
        self._check_password(password)
        if role is Role.OFFICER and not officer_id:
            raise AccountError("officer_needed", "an officer's account must be tied to a roster entry")
        if role is not Role.OFFICER:
            officer_id = None
        now = utc_text(self.clock())
        digest = hash_password(password)

        def add(conn) -> Account:
            if stored.account_by_username(conn, name) is not None:
                raise AccountError("username_taken", f"the username {name} is taken")
            account_id = stored.add_account(
                conn, username=name, display_name=(display_name or "").strip() or None, role=role.value,
                officer_id=officer_id, password_hash=digest, active=True, created_at=now,
                password_changed_at=now,
            )
            detail = f"role={role.value}" + (f" officer={officer_id}" if officer_id else "")
            self._audit(conn, actor, "account.create", name, detail, address, now)
            return _account(stored.account_by_id(conn, account_id))

        return write_transaction(self.engine, add)

    def accounts(self) -> list[Account]:
        """Every account, active ones first."""
        with read_transaction(self.engine) as conn:
            return [_account(row) for row in stored.all_accounts(conn)]

    def get(self, account_id: int) -> Account | None:
        """One account."""
        with read_transaction(self.engine) as conn:
            row = stored.account_by_id(conn, account_id)
        return _account(row) if row else None

    def set_password(self, account_id: int, password: str, *, actor: str | None = None,
                     address: str | None = None) -> Account:
        """Give an account a new password; its open sessions end."""
        self._check_password(password)
        digest = hash_password(password)
        now = utc_text(self.clock())

        def change(conn) -> Account:
            row = self._row(conn, account_id)
            stored.update_account(conn, account_id, password_hash=digest, password_changed_at=now)
            stored.delete_sessions_of(conn, account_id)
            self._audit(conn, actor, "account.password", row["username"], "", address, now)
            return _account(row)

        return write_transaction(self.engine, change)

    def deactivate(self, account_id: int, *, actor: str | None = None, address: str | None = None) -> Account:
        """Close an account: it can no longer log in and its sessions end.
        (The row stays: the audit log names it.) The last active admin cannot be closed."""
        now = utc_text(self.clock())

        def close(conn) -> Account:
            row = self._row(conn, account_id)
            if not row["active"]:
                return _account(row)  # closed already: nothing changes, nothing to audit
            if row["role"] == Role.ADMIN:
                admins = [a for a in stored.all_accounts(conn) if a["role"] == Role.ADMIN and a["active"]]
                if len(admins) <= 1:
                    raise AccountError("last_admin", "the last active admin account cannot be closed")
            stored.update_account(conn, account_id, active=False)
            stored.delete_sessions_of(conn, account_id)
            self._audit(conn, actor, "account.deactivate", row["username"], "", address, now)
            return _account({**row, "active": False})

        return write_transaction(self.engine, close)

    def reactivate(self, account_id: int, *, actor: str | None = None, address: str | None = None) -> Account:
        """Open a closed account again, with its role, officer and password as
        they were (someone back from leave keeps their username); audited.
        An account open already is left as it is."""
        now = utc_text(self.clock())

        def reopen(conn) -> Account:
            row = self._row(conn, account_id)
            if row["active"]:
                return _account(row)
            stored.update_account(conn, account_id, active=True)
            self._audit(conn, actor, "account.reactivate", row["username"], "", address, now)
            return _account({**row, "active": True})

        return write_transaction(self.engine, reopen)

    # -- logging in ---------------------------------------------------------------

    def login(self, username: str, password: str, address: str) -> tuple[Session, str]:
        """Check a login and open a session: the session and its token (for
        the cookie; only its digest is stored). Raises :class:`LoginRefused`
        when the password is wrong, the account unknown or closed, or the
        username or the address is locked by earlier failures. Every attempt
        is recorded and audited, never with its password."""
        name = normalise_username(username)[:64]
        address = (address or "unknown")[:64]
        now = self.clock()
        locked = self.locked_until(name, address)
        if locked is not None:
            write_transaction(self.engine,
                              lambda conn: self._audit(conn, None, "login.locked", name, "", address, utc_text(now)))
            raise LoginRefused(locked)
        with read_transaction(self.engine) as conn:
            row = stored.account_by_username(conn, name)
        # Verified even for an unknown user (against a dummy hash): same time either way.
        matches = password_matches(row["password_hash"] if row else _DUMMY_HASH, password)
        success = bool(row and row["active"] and matches)
        stamp = utc_text(now)
        token = secrets.token_urlsafe(32)

        def record(conn) -> Session | None:
            stored.add_login_attempt(conn, username=name, address=address, at=stamp, success=success)
            if not success:
                self._audit(conn, None, "login.failure", name, "", address, stamp)
                return None
            stored.delete_expired_sessions(conn, stamp)
            session = Session(account=_account(row), csrf=secrets.token_urlsafe(32),
                              expires_at=utc_text(now + SESSION_LIFETIME), token_digest=token_digest(token))
            stored.add_session(conn, token_digest=session.token_digest, account_id=row["id"], csrf=session.csrf,
                               created_at=stamp, expires_at=session.expires_at, address=address)
            self._audit(conn, name, "login.success", name, "", address, stamp)
            return session

        session = write_transaction(self.engine, record)
        if session is None:
            # This failure may be the one that locks: say so at once.
            raise LoginRefused(self.locked_until(name, address))
        return session, token

    def locked_until(self, username: str, address: str) -> datetime | None:
        """When the lock on this username or this address ends, if either is locked now."""
        now = self.clock()
        since = utc_text(now - FAILURE_MEMORY)
        ends = []
        with read_transaction(self.engine) as conn:
            for column, value, threshold in (("username", normalise_username(username), USERNAME_FAILURES),
                                             ("address", address, ADDRESS_FAILURES)):
                count, latest = stored.failures_since_success(conn, column, value, since)
                until = lockout_until(count, datetime.fromisoformat(latest) if latest else None, threshold)
                if until is not None and until > now:
                    ends.append(until)
        return max(ends) if ends else None

    def session(self, token: str | None) -> Session | None:
        """The open session of a cookie's token, if it is valid, unexpired and
        its account still active."""
        if not token or len(token) > 200:
            return None
        with read_transaction(self.engine) as conn:
            row = stored.session_by_digest(conn, token_digest(token))
        if row is None or row["expires_at"] <= utc_text(self.clock()) or not row["acct_active"]:
            return None
        return Session(account=_account(row, "acct_"), csrf=row["csrf"], expires_at=row["expires_at"],
                       token_digest=row["token_digest"])

    def logout(self, session: Session, *, address: str | None = None) -> None:
        """End a session."""
        now = utc_text(self.clock())

        def end(conn: Connection) -> None:
            stored.delete_session(conn, session.token_digest)
            self._audit(conn, session.account.username, "logout", session.account.username, "", address, now)

        write_transaction(self.engine, end)

    # -- the audit log --------------------------------------------------------------

    def audit(self, actor: str | None, action: str, target: str | None = None, detail: str = "",
              address: str | None = None) -> None:
        """Record a change made elsewhere (a device approved, the roster
        edited…): ``action`` is a dotted name such as ``device.revoke``."""
        at = utc_text(self.clock())
        write_transaction(self.engine, lambda conn: self._audit(conn, actor, action, target, detail, address, at))

    def audit_entries(self, *, page: int = 1, per_page: int = 50) -> tuple[list[AuditEntry], int]:
        """One page of the audit log, newest first, and the total number of entries."""
        page = max(1, page)
        with read_transaction(self.engine) as conn:
            rows = stored.audit_page(conn, offset=(page - 1) * per_page, limit=per_page)
            total = stored.audit_count(conn)
        return [AuditEntry(**row) for row in rows], total

    # -- inside ---------------------------------------------------------------------

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError("short_password", f"a password has at least {MIN_PASSWORD_CHARS} characters")
        if len(password) > 1024:
            raise AccountError("long_password", "a password has at most 1024 characters")

    @staticmethod
    def _row(conn, account_id: int) -> dict[str, Any]:
        row = stored.account_by_id(conn, account_id)
        if row is None:
            raise AccountError("no_account", f"no account {account_id}")
        return row

    @staticmethod
    def _audit(conn, actor: str | None, action: str, target: str | None, detail: str, address: str | None,
               at: str) -> None:
        stored.add_audit(conn, at=at, actor=actor, action=action, target=target, detail=detail,
                         address=(address or None) and address[:64])
