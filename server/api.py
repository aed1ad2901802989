"""The HTTP API under ``/api/v1/`` (described at ``/openapi.json``).

:func:`create_app` builds the services, keeps them on ``app.state``, turns
exceptions into answers and includes the routers of :mod:`server.routes`.
The routes only translate: who may call them is a dependency
(:mod:`server.deps`), the rules live in :mod:`server.ingest`,
:mod:`server.clock` and :mod:`server.registry`, and the queries in
:mod:`server.store`.

Every error is JSON ``{"error": <machine code>, "detail": <sentence>}``; bad
input is a 4xx, never a 500. The server's own limits (:mod:`server.limits`)
answer 413 / 408 before the routes run; a database that stays locked past
the wait answers 503 ``busy`` and a full disk 507 ``disk_full``, both with
``Retry-After`` (on the dashboard's pages: a page saying so, drawn without
the database).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from server.answers import UNSTORABLE, ApiError, error_answer, validation_detail
from server.batches import BatchIngest
from server.clock import Clock, utc_now, utc_text
from server.deps import LaunchOptions
from server.disk_alarm import DISK_FULL_RETRY_AFTER_S, DiskAlarm, is_disk_full
from server.limits import Refusal, RequestBounds, ServerLimits
from server.registry import DeviceRegistry
from server.roster import RosterStore
from server.routes import ROUTERS
from server.web import mount_dashboard
from server.web.refusals import refusal_html
from sync.protocol import API_PREFIX, SERVER_TIME_HEADER, SIGNED_GET_WINDOW_S, ErrorCode

__all__ = ["create_app", "ApiError"]

log = logging.getLogger("hailong.server")

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.TOO_LARGE}

_DISK_FULL = "the server's disk is full; nothing was stored: send it again later"
_BUSY = "the database is busy; try again shortly"


def create_app(
    engine: Engine,
    *,
    clock_threshold_s: float = 300.0,
    pair_interval_s: int = 5,
    pair_lifetime_s: int = 900,
    public_url: str | None = None,
    signed_get_window_s: float = SIGNED_GET_WINDOW_S,
    clock: Clock = utc_now,
    limits: ServerLimits | None = None,
) -> FastAPI:
    """The commune server's web application on an open database.

    ``signed_get_window_s``: how far a signed GET's timestamp may be from the
    server's clock before the request is refused as a possible replay.
    ``clock``: the server's time (pairing expiry and polling, the signed-GET
    window, batch arrival stamps, the time every answer carries); the real
    UTC time unless a test moves one by hand.
    ``limits``: body sizes and times, database waits (:mod:`server.limits`);
    the engine should have been opened with the same ``db_wait_s``."""
    limits = limits or ServerLimits()
    # No interactive docs: they load their scripts from a CDN, and the commune
    # network may have no internet. The description itself is served.
    app = FastAPI(
        title="Hài Lòng commune server",
        version="1",
        description="Receives the satisfaction tablets' ratings; pairs, authenticates and configures them.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.clock = clock
    app.state.registry = DeviceRegistry(engine, pair_interval_s=pair_interval_s,
                                        pair_lifetime_s=pair_lifetime_s, clock=clock)
    app.state.ingest = BatchIngest(engine, clock_threshold_s=clock_threshold_s)
    app.state.rosters = RosterStore(engine, clock=clock)
    app.state.launch = LaunchOptions(public_url=public_url, signed_get_window_s=signed_get_window_s)
    app.state.limits = limits
    app.state.disk_alarm = DiskAlarm(_database_folder(engine), clock=clock)
    # Every answer says what time the server has: a tablet whose clock is days
    # off signs its GETs with the server's time, not its own (kiosk.link.transport).
    app.add_middleware(_ServerTimeHeader, clock=clock)
    # Added last, so it runs first: a body too large or too slow is refused
    # before any route, dependency or other middleware sees it.
    app.add_middleware(RequestBounds, body_timeout_s=limits.body_timeout_s, answer=_draw_refusal,
                       body_memory_bytes=limits.body_memory_bytes, retry_after_s=limits.retry_after_s)
    _handle_errors(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_dashboard(app, engine)
    return app


def _handle_errors(app: FastAPI) -> None:
    """Turn every exception into a JSON error answer."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return error_answer(exc.status, exc.code, exc.detail, secret=exc.secret, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return error_answer(422, ErrorCode.MALFORMED, validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_answer(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> Response:
        # A value the schemas let through but the database cannot hold: on
        # PostgreSQL a NUL character in text. The request is at fault, and
        # the same request will fail the same way again, so not a 500.
        log.warning("request refused by the database: %s", exc.orig)
        return error_answer(422, ErrorCode.MALFORMED, UNSTORABLE)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)  # every pooled connection in use
    async def _busy(request: Request, exc: Exception) -> Response:
        if is_disk_full(exc):
            return _disk_full(request, exc)
        log.warning("database busy: %s %s: %s", request.method, request.url.path, exc)
        return _unavailable(request, 503, ErrorCode.BUSY, _BUSY, request.app.state.limits.retry_after_s)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        if is_disk_full(exc):
            return _disk_full(request, exc)
        log.error("unexpected error", exc_info=exc)
        return error_answer(500, ErrorCode.INTERNAL, "unexpected server error; it has been logged")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _exc: ClientDisconnect) -> Response:
        # Logged once, by RequestBounds, as it saw the disconnect; nobody reads this answer.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_answer(500, ErrorCode.INTERNAL, "unexpected server error; it has been logged")


def _disk_full(request: Request, exc: BaseException) -> Response:
    log.error("disk full: %s %s: %s", request.method, request.url.path, exc)
    request.app.state.disk_alarm.refused()
    return _unavailable(request, 507, ErrorCode.DISK_FULL, _DISK_FULL, DISK_FULL_RETRY_AFTER_S)


def _unavailable(request: Request, status: int, code: str, detail: str, retry_after_s: int) -> Response:
    """A 503 or 507: JSON under the API, the refusal page on the dashboard."""
    headers = {"Retry-After": str(retry_after_s)}
    if _wants_json(request.url.path):
        return error_answer(status, code, detail, headers=headers)
    return Response(refusal_html(request.scope, code, status=status), status_code=status,
                    media_type="text/html; charset=utf-8", headers={**headers, "Cache-Control": "no-store"})


def _wants_json(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == "/openapi.json"


async def _draw_refusal(scope: dict[str, Any], refusal: Refusal) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The answer of :class:`~server.limits.RequestBounds`: JSON under the API, a page elsewhere."""
    if _wants_json(scope["path"]):
        body = error_answer(refusal.status, refusal.reason, refusal.detail).body
        return [(b"content-type", b"application/json")], bytes(body)
    return [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")], \
        refusal_html(scope, refusal.reason, status=refusal.status)


def _database_folder(engine: Engine) -> Path | None:
    """The folder of a SQLite database file, whose disk the alarm measures (None otherwise)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(engine.url.database).parent


class _ServerTimeHeader:
    """ASGI middleware adding the server's clock to every HTTP answer.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware: it only touches
    the response's first message, so batch uploads pay nearly nothing."""

    def __init__(self, app: Any, clock: Clock = utc_now):
        self.app = app
        self.clock = clock

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                now = utc_text(self.clock()).encode("ascii")
                message["headers"] = [*message.get("headers", []), (SERVER_TIME_HEADER.lower().encode(), now)]
            await send(message)

        await self.app(scope, receive, send_with_time)
