"""The HTTP API under ``/api/v1/`` (described at ``/openapi.json``).

:func:`create_app` builds the services, keeps them on ``app.state``, turns
exceptions into answers and includes the routers of :mod:`server.routes`.
The routes only translate: who may call them is a dependency
(:mod:`server.deps`), the rules live in :mod:`server.ingest`,
:mod:`server.clock` and :mod:`server.registry`, and the queries in
:mod:`server.store`.

Every error is JSON ``{"error": <machine code>, "detail": <sentence>}``; bad
input is a 4xx, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.answers import UNSTORABLE, ApiError, error_answer, validation_detail
from server.batches import BatchIngest
from server.clock import Clock, utc_now, utc_text
from server.deps import LaunchOptions
from server.registry import DeviceRegistry
from server.roster import RosterStore
from server.routes import ROUTERS
from server.web import mount_dashboard
from sync.protocol import SERVER_TIME_HEADER, SIGNED_GET_WINDOW_S, ErrorCode

__all__ = ["create_app", "ApiError"]

log = logging.getLogger("hailong.server")

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.TOO_LARGE}


def create_app(
    engine: Engine,
    *,
    clock_threshold_s: float = 300.0,
    pair_interval_s: int = 5,
    pair_lifetime_s: int = 900,
    public_url: str | None = None,
    signed_get_window_s: float = SIGNED_GET_WINDOW_S,
    clock: Clock = utc_now,
) -> FastAPI:
    """The commune server's web application on an open database.

    ``signed_get_window_s``: how far a signed GET's timestamp may be from the
    server's clock before the request is refused as a possible replay.
    ``clock``: the server's time (pairing expiry and polling, the signed-GET
    window, batch arrival stamps, the time every answer carries); the real
    UTC time unless a test moves one by hand."""
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
    # Every answer says what time the server has: a tablet whose clock is days
    # off signs its GETs with the server's time, not its own (kiosk.link.transport).
    app.add_middleware(_ServerTimeHeader, clock=clock)
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
    @app.exception_handler(PoolTimeout)  # every pooled connection in use (PostgreSQL)
    async def _busy(_request: Request, exc: Exception) -> Response:
        log.warning("database busy: %s", exc)
        return error_answer(503, ErrorCode.BUSY, "the database is busy; try again shortly",
                            headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_answer(500, ErrorCode.INTERNAL, "unexpected server error; it has been logged")


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
