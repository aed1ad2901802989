"""The routes' dependencies: the services the application was built with
(kept on ``app.state`` by :func:`server.api.create_app`), and who is asking.

Who may call a route is a dependency in its signature:

* tablets, signed: :func:`signed_device` (the body's HMAC, for uploads) or
  :func:`signed_get_device` (an HMAC of path and timestamp, for GETs), each
  giving the :class:`AuthenticatedDevice`;
* people, logged in on the dashboard: :func:`require` ``(*roles)`` gives
  the :class:`~server.accounts.Account` when its role is one of ``roles``
  (anonymous: 401, or a redirect to ``/login`` for a page; another role:
  403), :func:`current_account` the account or None, and :func:`csrf_protect`
  refuses a POST without its session's CSRF token (form field ``csrf`` or
  header ``X-CSRF-Token``); the dashboard's pages import them from
  :mod:`server.web.auth`;
* anyone: no dependency (pairing, health).

The service getters are ``async``: FastAPI runs a plain ``def`` dependency
on a worker thread, and fetching an attribute is not worth the hop.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from server.accounts import Account, AccountBook, Role, Session
from server.answers import ApiError
from server.batches import BatchIngest
from server.clock import Clock
from server.registry import DeviceRegistry
from server.roster import RosterStore
from sync.protocol import (
    DEVICE_HEADER,
    MAX_BODY_BYTES,
    SERVER_TIME_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ErrorCode,
    get_signing_text,
    verify,
)

__all__ = [
    "LaunchOptions",
    "AuthenticatedDevice",
    "get_registry",
    "get_ingest",
    "get_rosters",
    "get_clock",
    "get_launch_options",
    "base_url",
    "arrival_time",
    "request_body",
    "signed_device",
    "signed_get_device",
    "SESSION_COOKIE",
    "CSRF_HEADER",
    "AccessDenied",
    "get_accounts",
    "current_session",
    "current_account",
    "require",
    "csrf_protect",
    "client_address",
    "timestamp_problem",
]


@dataclass(frozen=True)
class LaunchOptions:
    """The options the running server was started with (command line), as
    opposed to the settings kept in its database (:mod:`server.settings`)."""

    public_url: str | None
    """The address tablets and phones use, when it differs from the one asked."""
    signed_get_window_s: float
    """How far a signed GET's timestamp may be from the server's clock."""
    letter_templates: Path | None = None
    """A folder of letter templates edited by the commune (``--letter-templates``):
    a file there replaces the shipped one of the same name (:mod:`server.letters`)."""


@dataclass(frozen=True)
class AuthenticatedDevice:
    """A paired, active device whose request signature checked out."""

    device_id: str
    secret: str
    """Its secret: every answer to it, errors included, is signed with it."""


# -- the services ---------------------------------------------------------------


async def get_registry(request: Request) -> DeviceRegistry:
    """The device registry (pairing, secrets, health)."""
    return request.app.state.registry


async def get_ingest(request: Request) -> BatchIngest:
    """The batch ingest."""
    return request.app.state.ingest


async def get_rosters(request: Request) -> RosterStore:
    """The roster store."""
    return request.app.state.rosters


async def get_clock(request: Request) -> Clock:
    """The server's clock."""
    return request.app.state.clock


async def get_launch_options(request: Request) -> LaunchOptions:
    """The options the server was started with."""
    return request.app.state.launch


async def base_url(request: Request, launch: LaunchOptions = Depends(get_launch_options)) -> str:
    """The server's address as tablets and phones reach it."""
    return (launch.public_url or str(request.base_url)).rstrip("/")


async def arrival_time(clock: Clock = Depends(get_clock)) -> datetime:
    """When the request arrived, on the server's clock (before its body is read)."""
    return clock()


async def request_body(request: Request) -> bytes:
    """The request's body, refused with 413 beyond :data:`MAX_BODY_BYTES`
    (before it is all read when the length is announced). Read once: a
    signed route's device check reads it first (:func:`signed_device`)."""
    kept = getattr(request.state, "body", None)
    if kept is not None:
        return kept
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise ApiError(413, ErrorCode.TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, ErrorCode.TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    request.state.body = b"".join(chunks)
    return request.state.body


# -- who is asking ----------------------------------------------------------------


def _credentials(registry: DeviceRegistry, device_id: str | None) -> tuple[str, str]:
    """The secret and status of the device a request names; raises ApiError
    when it names none or one this server does not know."""
    if not device_id:
        raise ApiError(401, ErrorCode.UNKNOWN_DEVICE, f"the {DEVICE_HEADER} header is missing")
    credentials = registry.credentials(device_id)
    if credentials is None:
        raise ApiError(401, ErrorCode.UNKNOWN_DEVICE, "this device is not paired with this server")
    return credentials


def _authenticate(registry: DeviceRegistry, device_id: str | None, message: bytes,
                  signature: str | None, credentials: tuple[str, str] | None = None) -> AuthenticatedDevice:
    """The device once its signature over ``message`` is checked; raises ApiError otherwise."""
    secret, status = credentials or _credentials(registry, device_id)
    if not verify(secret, message, signature):
        raise ApiError(401, ErrorCode.BAD_SIGNATURE,
                       "the authentication code does not match the body; nothing was stored")
    if status != "active":
        raise ApiError(403, ErrorCode.DEVICE_REVOKED,
                       "this device has been revoked on the server; its uploads are refused "
                       "(its local data is kept) until a technician pairs it again", secret=secret)
    return AuthenticatedDevice(device_id, secret)


async def signed_device(request: Request, registry: DeviceRegistry = Depends(get_registry)) -> AuthenticatedDevice:
    """A tablet, signed: the device whose secret signed the request's body.

    A request naming no device, or one this server does not know, is
    refused before its body is read (an unknown caller cannot make the
    server hold a batch-sized body); the signature is checked before the
    body is parsed: a request that is not the device's own is refused before
    its content is looked at."""
    device_id = request.headers.get(DEVICE_HEADER)
    credentials = await run_in_threadpool(_credentials, registry, device_id)
    body = await request_body(request)
    return await run_in_threadpool(_authenticate, registry, device_id, body,
                                   request.headers.get(SIGNATURE_HEADER), credentials)


def signed_get_device(request: Request, registry: DeviceRegistry = Depends(get_registry),
                      clock: Clock = Depends(get_clock),
                      launch: LaunchOptions = Depends(get_launch_options)) -> AuthenticatedDevice:
    """A tablet, signed: the device of a signed GET whose signature and timestamp check out.

    The timestamp is what makes a captured GET useless later: it must be
    within the server's signed-GET window of its clock. (Batches need no
    such check: they are idempotent, and a tablet may send one long after
    it was built.)"""
    timestamp = request.headers.get(TIMESTAMP_HEADER) or ""
    if len(timestamp) > 100:
        raise ApiError(401, ErrorCode.BAD_SIGNATURE, "the timestamp header is too long")
    device = _authenticate(
        registry,
        request.headers.get(DEVICE_HEADER),
        get_signing_text(request.url.path, timestamp),
        request.headers.get(SIGNATURE_HEADER),
    )
    problem = timestamp_problem(timestamp, clock(), launch.signed_get_window_s)
    if problem:
        raise ApiError(401, ErrorCode.STALE_TIMESTAMP,
                       f"{problem}; sign with the time in the {SERVER_TIME_HEADER} header", secret=device.secret)
    return device


def timestamp_problem(timestamp: str, now: datetime, window_s: float) -> str | None:
    """Why a signed GET's timestamp is not acceptable at ``now``, or None.

    It must be ISO 8601 with a UTC offset and at most ``window_s`` seconds
    from ``now`` either way (a little ahead is allowed: clocks differ)."""
    try:
        when = datetime.fromisoformat(timestamp)
        if when.tzinfo is None:
            return "the request's timestamp has no UTC offset"
        away = abs((now - when).total_seconds())
    except (ValueError, OverflowError):
        return "the request's timestamp is not an ISO 8601 time"
    if away > window_s:
        return (f"the request's timestamp is {away:.0f} s from the server's clock (at most "
                f"{window_s:.0f} s allowed): an old request is not accepted again")
    return None


# -- people on the dashboard ------------------------------------------------------

SESSION_COOKIE = "hailong_session"
"""The session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS (set by the login page)."""
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


class AccessDenied(Exception):
    """A request refused for who is asking: 401 (nobody logged in) or 403
    (another role, or a missing or wrong CSRF token). The dashboard answers it
    (:func:`server.web.auth.handle_access_denied`): JSON under ``/api/``,
    else a redirect to the login page or an error page."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        """``login_required``, ``forbidden`` or ``csrf``."""


async def get_accounts(request: Request) -> AccountBook:
    """The accounts, sessions and audit log."""
    return request.app.state.accounts


def client_address(request: Request) -> str:
    """Where the request came from (for login rate limits and the audit log)."""
    return request.client.host if request.client else "unknown"


def current_session(request: Request, accounts: AccountBook = Depends(get_accounts)) -> Session | None:
    """The request's open session from its cookie, or None. Kept on
    ``request.state.session`` for the pages' layout."""
    session = accounts.session(request.cookies.get(SESSION_COOKIE))
    request.state.session = session
    return session


def current_account(session: Session | None = Depends(current_session)) -> Account | None:
    """The logged-in account, or None when anonymous."""
    return session.account if session else None


def require(*roles: Role) -> Callable[..., Account]:
    """A dependency letting in only logged-in accounts of these roles (any
    role when none is named); it gives the :class:`Account`."""
    allowed = frozenset(roles) or frozenset(Role)

    def dependency(account: Account | None = Depends(current_account)) -> Account:
        if account is None:
            raise AccessDenied(401, "login_required")
        if account.role not in allowed:
            raise AccessDenied(403, "forbidden")
        return account

    dependency.__doc__ = f"A logged-in account with role {' or '.join(sorted(allowed))}."
    return dependency


async def csrf_protect(request: Request, session: Session | None = Depends(current_session)) -> None:
    """Refuse a state-changing request that does not carry its session's CSRF
    token (form field ``csrf`` or header ``X-CSRF-Token``): 403."""
    if session is None:
        raise AccessDenied(401, "login_required")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise AccessDenied(403, "csrf")
