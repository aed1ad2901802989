"""The queries of the dashboard's accounts, sessions, login attempts and
audit log (:mod:`server.accounts` holds the rules)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from server.store.tables import accounts, audit_log, login_attempts, sessions

__all__ = [
    "add_account", "account_by_id", "account_by_username", "all_accounts", "update_account",
    "add_session", "session_by_digest", "delete_session", "delete_sessions_of", "delete_expired_sessions",
    "add_login_attempt", "failures_since_success",
    "add_audit", "audit_page", "audit_count",
]


def add_account(conn: Connection, **values: Any) -> int:
    """Insert an account; returns its id."""
    return conn.execute(insert(accounts).values(**values)).inserted_primary_key[0]


def account_by_id(conn: Connection, account_id: int) -> dict[str, Any] | None:
    """One account's row."""
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
    return dict(row) if row else None


def account_by_username(conn: Connection, username: str) -> dict[str, Any] | None:
    """One account's row, by its (already normalised) username."""
    row = conn.execute(select(accounts).where(accounts.c.username == username)).mappings().first()
    return dict(row) if row else None


def all_accounts(conn: Connection) -> list[dict[str, Any]]:
    """Every account, active ones first, then by username."""
    query = select(accounts).order_by(accounts.c.active.desc(), accounts.c.username)
    return [dict(row) for row in conn.execute(query).mappings()]


def update_account(conn: Connection, account_id: int, **values: Any) -> bool:
    """Change an account's columns; whether it exists."""
    return conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values)).rowcount > 0


def add_session(conn: Connection, **values: Any) -> None:
    """Insert a session."""
    conn.execute(insert(sessions).values(**values))


def session_by_digest(conn: Connection, token_digest: str) -> dict[str, Any] | None:
    """A session and its account's row (columns prefixed ``acct_``), if both exist."""
    query = (
        select(sessions, *[c.label(f"acct_{c.name}") for c in accounts.c])
        .join(accounts, accounts.c.id == sessions.c.account_id)
        .where(sessions.c.token_digest == token_digest)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def delete_session(conn: Connection, token_digest: str) -> None:
    """End one session."""
    conn.execute(delete(sessions).where(sessions.c.token_digest == token_digest))


def delete_sessions_of(conn: Connection, account_id: int) -> int:
    """End every session of an account; how many there were."""
    return conn.execute(delete(sessions).where(sessions.c.account_id == account_id)).rowcount


def delete_expired_sessions(conn: Connection, now: str) -> None:
    """Forget sessions past their expiry."""
    conn.execute(delete(sessions).where(sessions.c.expires_at <= now))


def add_login_attempt(conn: Connection, **values: Any) -> None:
    """Record one login attempt (never its password)."""
    conn.execute(insert(login_attempts).values(**values))


def failures_since_success(conn: Connection, column: str, value: str, since: str) -> tuple[int, str | None]:
    """Failed attempts under ``column`` (``username`` or ``address``) equal to
    ``value``, after its last success and after ``since``: their count and the
    time of the latest."""
    col = login_attempts.c[column]
    last_success = (
        select(func.max(login_attempts.c.at))
        .where(col == value, login_attempts.c.success.is_(True))
        .scalar_subquery()
    )
    query = select(func.count(), func.max(login_attempts.c.at)).where(
        col == value,
        login_attempts.c.success.is_(False),
        login_attempts.c.at > since,
        or_(last_success.is_(None), login_attempts.c.at > last_success),
    )
    count, latest = conn.execute(query).one()
    return int(count or 0), latest


def add_audit(conn: Connection, **values: Any) -> None:
    """Append one entry to the audit log."""
    conn.execute(insert(audit_log).values(**values))


def audit_page(conn: Connection, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """Audit entries, newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).offset(offset).limit(limit)
    return [dict(row) for row in conn.execute(query).mappings()]


def audit_count(conn: Connection) -> int:
    """How many audit entries there are."""
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
