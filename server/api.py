"""The HTTP API under ``/api/v1/`` (described at ``/openapi.json``).

This module only translates: it authenticates requests, checks their shape
and turns the domain's answers and exceptions into HTTP. The rules live in
:mod:`server.ingest`, :mod:`server.clock`, :mod:`server.batches`,
:mod:`server.registry` and :mod:`server.roster`.

Every error is JSON ``{"error": <machine code>, "detail": <sentence>}``; bad
input is a 4xx, never a 500.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.batches import Batch, BatchAnswer, BatchIngest, IdempotencyKeyReused
from server.clock import parse_device_time, utc_text
from server.registry import DeviceRegistry, PairingError
from server.roster import RosterStore
from server.schemas import (
    BatchIn,
    BatchOut,
    DeviceCodeIn,
    DeviceCodeOut,
    DeviceHealthOut,
    ErrorOut,
    TokenIn,
    TokenOut,
)
from sync.protocol import (
    API_PREFIX,
    DEVICE_CODE_GRANT,
    DEVICE_HEADER,
    MAX_BODY_BYTES,
    REPLAY_HEADER,
    SERVER_TIME_HEADER,
    SIGNATURE_HEADER,
    SIGNED_GET_WINDOW_S,
    TIMESTAMP_HEADER,
    ErrorCode,
    get_signing_text,
    sign,
    verify,
)

__all__ = ["create_app", "ApiError"]

log = logging.getLogger("hailong.server")


class ApiError(Exception):
    """An error answer: HTTP status, machine code, detail, and the secret to
    sign it with when the asker is a known device."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
                 secret: str | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}
        self.secret = secret


def _json_bytes(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _respond(status: int, content: Any, *, secret: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return _respond_bytes(status, _json_bytes(content), secret=secret, headers=headers)


def _respond_bytes(status: int, body: bytes, *, secret: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """A JSON answer whose body is already encoded (signed when ``secret`` is given)."""
    headers = dict(headers or {})
    if secret is not None:
        # Signed answers: a device only trusts acknowledgements from its own server.
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: int, code: str, detail: str, **kwargs: Any) -> Response:
    return _respond(status, {"error": code, "detail": detail}, **kwargs)


_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 503)}
_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.TOO_LARGE}
_DEVICE_HEADERS = [
    {"name": DEVICE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "the device's id"},
    {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "sha256=<hex HMAC-SHA256 of the body with the device secret>"},
]


_UNSTORABLE = "a value in the request cannot be stored (a NUL character in text?); nothing was stored"


def _validation_detail(exc: ValidationError | RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))


def create_app(
    engine: Engine,
    *,
    clock_threshold_s: float = 300.0,
    pair_interval_s: int = 5,
    pair_lifetime_s: int = 900,
    public_url: str | None = None,
    signed_get_window_s: float = SIGNED_GET_WINDOW_S,
) -> FastAPI:
    """The commune server's web application on an open database.

    ``signed_get_window_s``: how far a signed GET's timestamp may be from the
    server's clock before the request is refused as a possible replay."""
    registry = DeviceRegistry(engine, pair_interval_s=pair_interval_s, pair_lifetime_s=pair_lifetime_s)
    ingest = BatchIngest(engine, clock_threshold_s=clock_threshold_s)
    rosters = RosterStore(engine)
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
    app.state.registry, app.state.ingest, app.state.rosters = registry, ingest, rosters
    # Every answer says what time the server has: a tablet whose clock is days
    # off signs its GETs with the server's time, not its own (kiosk.link.transport).
    app.add_middleware(_ServerTimeHeader)

    # -- errors ----------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.detail, secret=exc.secret, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        return _error(422, ErrorCode.MALFORMED, _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return _error(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> Response:
        # A value the schemas let through but the database cannot hold: on
        # PostgreSQL a NUL character in text. The request is at fault, and
        # the same request will fail the same way again, so not a 500.
        log.warning("request refused by the database: %s", exc.orig)
        return _error(422, ErrorCode.MALFORMED, _UNSTORABLE)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)  # every pooled connection in use (PostgreSQL)
    async def _busy(_request: Request, exc: Exception) -> Response:
        log.warning("database busy: %s", exc)
        return _error(503, ErrorCode.BUSY, "the database is busy; try again shortly", headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _error(500, ErrorCode.INTERNAL, "unexpected server error; it has been logged")

    # -- helpers ---------------------------------------------------------------

    def base_url(request: Request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise ApiError(413, ErrorCode.TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(413, ErrorCode.TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(device_id: str | None, message: bytes, signature: str | None) -> str:
        """The device's secret once its signature is checked; raises ApiError otherwise."""
        if not device_id:
            raise ApiError(401, ErrorCode.UNKNOWN_DEVICE, f"the {DEVICE_HEADER} header is missing")
        credentials = registry.credentials(device_id)
        if credentials is None:
            raise ApiError(401, ErrorCode.UNKNOWN_DEVICE, "this device is not paired with this server")
        secret, status = credentials
        if not verify(secret, message, signature):
            raise ApiError(401, ErrorCode.BAD_SIGNATURE,
                           "the authentication code does not match the body; nothing was stored")
        if status != "active":
            raise ApiError(403, ErrorCode.DEVICE_REVOKED,
                           "this device has been revoked on the server; its uploads are refused "
                           "(its local data is kept) until a technician pairs it again", secret=secret)
        return secret

    def authenticate_get(request: Request) -> str:
        """The device's secret for a signed GET whose signature and timestamp check out.

        The timestamp is what makes a captured GET useless later: it must be
        within ``signed_get_window_s`` of the server's clock. (Batches need no
        such check: they are idempotent, and a tablet may send one long after
        it was built.)"""
        timestamp = request.headers.get(TIMESTAMP_HEADER) or ""
        if len(timestamp) > 100:
            raise ApiError(401, ErrorCode.BAD_SIGNATURE, "the timestamp header is too long")
        secret = authenticate(
            request.headers.get(DEVICE_HEADER),
            get_signing_text(request.url.path, timestamp),
            request.headers.get(SIGNATURE_HEADER),
        )
        problem = timestamp_problem(timestamp, datetime.now(timezone.utc), signed_get_window_s)
        if problem:
            raise ApiError(401, ErrorCode.STALE_TIMESTAMP,
                           f"{problem}; sign with the time in the {SERVER_TIME_HEADER} header", secret=secret)
        return secret

    # -- service ---------------------------------------------------------------

    @app.get(f"{API_PREFIX}/health", tags=["service"])
    def health() -> dict[str, str]:
        """The server is up; its clock."""
        return {"status": "ok", "server_time": utc_text(datetime.now(timezone.utc))}

    # -- pairing (RFC 8628) -------------------------------------------------------

    @app.post(f"{API_PREFIX}/pair/device-code", response_model=DeviceCodeOut, responses=_ERRORS, tags=["pairing"])
    def device_code(body: DeviceCodeIn, request: Request) -> DeviceCodeOut:
        """Start pairing: a device code to poll with and a short user code to show."""
        code = registry.request_code(body.device_id, body.label, body.app_version)
        uri = f"{base_url(request)}/pair"
        return DeviceCodeOut(
            device_code=code.device_code, user_code=code.user_code, verification_uri=uri,
            verification_uri_complete=f"{uri}?code={code.user_code}",
            expires_in=code.expires_in, interval=code.interval,
        )

    @app.post(f"{API_PREFIX}/pair/token", response_model=TokenOut, responses=_ERRORS, tags=["pairing"])
    def token(body: TokenIn) -> Response:
        """Poll for the device secret. 400 with ``authorization_pending``,
        ``slow_down``, ``expired_token`` or ``access_denied`` until approved."""
        if body.grant_type != DEVICE_CODE_GRANT:
            raise ApiError(400, ErrorCode.UNSUPPORTED_GRANT_TYPE, f"grant_type must be {DEVICE_CODE_GRANT}")
        try:
            granted = registry.poll(body.device_code)
        except PairingError as exc:
            raise ApiError(400, exc.code, exc.detail, headers={"Cache-Control": "no-store"}) from None
        return _respond(200, granted, headers={"Cache-Control": "no-store"})

    @app.get("/pair", response_class=HTMLResponse, include_in_schema=False)
    def approval_page(code: str = "") -> HTMLResponse:
        """The approval address the tablet's QR code opens."""
        pairing = registry.pending(code[:20]) if code else None
        if pairing is None:
            text = "Không tìm thấy mã ghép nối này. (No pairing request with this code.)"
        else:
            text = (
                f"Máy tính bảng <b>{html.escape(pairing['label'] or pairing['device_id'])}</b> xin ghép nối "
                f"với mã <b>{html.escape(pairing['user_code'])}</b> — trạng thái: {html.escape(pairing['status'])}."
                f"<br>Kỹ thuật viên duyệt trên máy chủ: "
                f"<code>python -m server approve {html.escape(pairing['user_code'])} --db …</code>"
            )
        return HTMLResponse(
            "<!doctype html><html lang=vi><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>Ghép nối máy tính bảng</title><body style='font:1.3em sans-serif;margin:2em'>"
            f"<h1>Ghép nối máy tính bảng</h1><p>{text}</p></body></html>"
        )

    # -- batches -----------------------------------------------------------------

    @app.post(
        f"{API_PREFIX}/batches",
        response_model=BatchOut,
        responses=_ERRORS,
        tags=["sync"],
        openapi_extra={
            "parameters": _DEVICE_HEADERS,
            "requestBody": {"required": True, "content": {"application/json": {"schema": BatchIn.model_json_schema()}}},
        },
    )
    async def post_batch(request: Request) -> Response:
        """Upload a batch of records. Each record gets its own result; every
        result is final. A bad signature is 401 and nothing is stored."""
        received_at = datetime.now(timezone.utc)
        body = await read_body(request)
        # Authentication, parsing and storing run in one worker-thread hop:
        # each hop costs a round trip through the event loop, per batch.
        secret, answer = await run_in_threadpool(
            receive_batch, request.headers.get(DEVICE_HEADER), request.headers.get(SIGNATURE_HEADER), body,
            received_at,
        )
        headers = {REPLAY_HEADER: "true"} if answer.replay else {}
        # The answer was encoded once, for the idempotency cache; those very bytes are sent.
        return _respond_bytes(200, answer.body, secret=secret, headers=headers)

    def receive_batch(device_id: str | None, signature: str | None, body: bytes,
                      received_at: datetime) -> tuple[str, BatchAnswer]:
        """Check and store one uploaded batch: the device's secret and the answer.

        The signature is checked before the body is even parsed: a request
        that is not the device's own is refused before its content is looked at."""
        secret = authenticate(device_id, body, signature)
        try:
            envelope = BatchIn.model_validate_json(body)
        except ValidationError as exc:
            too_long = any(e.get("type") == "too_long" and tuple(e.get("loc", ()))[:1] == ("records",)
                           for e in exc.errors())
            if too_long:
                raise ApiError(413, ErrorCode.TOO_LARGE, "too many records in one batch; send smaller batches",
                               secret=secret) from None
            raise ApiError(422, ErrorCode.MALFORMED, _validation_detail(exc), secret=secret) from None
        if envelope.device_id != device_id:
            raise ApiError(422, ErrorCode.WRONG_DEVICE, "device_id differs from the signing device", secret=secret)
        try:
            # Also refuses a time whose UTC moment is off the calendar: the
            # clock arithmetic after this must not fail (a 500 would make
            # the tablet resend the same batch forever).
            sent_at = parse_device_time(envelope.sent_at)
        except ValueError as exc:
            raise ApiError(422, ErrorCode.MALFORMED, f"sent_at: {exc}", secret=secret) from None
        batch = Batch(
            device_id=envelope.device_id, idempotency_key=envelope.idempotency_key, sent_at=sent_at,
            sent_monotonic_ns=envelope.sent_monotonic_ns, boot_id=envelope.boot_id,
            app_version=envelope.app_version, pending=envelope.pending, records=envelope.records,
        )
        try:
            return secret, ingest.receive(batch, received_at)
        except IdempotencyKeyReused:
            raise ApiError(422, ErrorCode.IDEMPOTENCY_KEY_REUSED,
                           "this idempotency key was used for other records", secret=secret) from None
        except DataError as exc:
            # Signed like every other answer to an authenticated device.
            log.warning("batch refused by the database: %s", exc.orig)
            raise ApiError(422, ErrorCode.MALFORMED, _UNSTORABLE, secret=secret) from None

    # -- roster ------------------------------------------------------------------

    get_headers = _DEVICE_HEADERS[:1] + [
        {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
         "description": "sha256=<hex HMAC of 'GET <path> <timestamp>'>"},
    ]

    @app.get(f"{API_PREFIX}/roster", responses={**_ERRORS, 304: {"description": "not modified"}},
             tags=["roster"], openapi_extra={"parameters": get_headers})
    def get_roster(request: Request) -> Response:
        """The officers, counters, reasons and settings. Send ``If-None-Match``
        with the last ETag to get ``304`` when nothing changed."""
        secret = authenticate_get(request)
        current = rosters.current()
        if current is None:
            raise ApiError(404, ErrorCode.NO_ROSTER, "no roster has been imported on the server yet", secret=secret)
        body, etag = current
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body.encode("utf-8"), media_type="application/json",
                        headers={"ETag": etag, "Cache-Control": "no-cache",
                                 SIGNATURE_HEADER: sign(secret, body.encode("utf-8"))})

    @app.get(f"{API_PREFIX}/roster/portraits/{{officer_id}}", responses={**_ERRORS, 304: {"description": "not modified"}},
             tags=["roster"], openapi_extra={"parameters": get_headers})
    def get_portrait(officer_id: str, request: Request) -> Response:
        """An officer's portrait, with its ETag."""
        secret = authenticate_get(request)
        portrait = rosters.portrait(officer_id)
        if portrait is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "no portrait for this officer", secret=secret)
        content, content_type, etag = portrait
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(content, media_type=content_type,
                        headers={"ETag": etag, SIGNATURE_HEADER: sign(secret, content)})

    # -- device health -------------------------------------------------------------

    @app.get(f"{API_PREFIX}/devices", response_model=list[DeviceHealthOut], tags=["devices"])
    def list_devices() -> list[dict[str, Any]]:
        """Every paired device's health: last seen, app version, pending
        count, clock offset, chain status and findings."""
        return registry.health()

    @app.get(f"{API_PREFIX}/devices/{{device_id}}", response_model=DeviceHealthOut, responses=_ERRORS,
             tags=["devices"])
    def device_health(device_id: str) -> dict[str, Any]:
        """One device's health."""
        found = registry.health(device_id)
        if not found:
            raise ApiError(404, ErrorCode.NOT_FOUND, f"no device {device_id}")
        return found[0]

    return app


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


class _ServerTimeHeader:
    """ASGI middleware adding the server's clock to every HTTP answer.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware: it only touches
    the response's first message, so batch uploads pay nearly nothing."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_time(message: dict) -> None:
            if message["type"] == "http.response.start":
                now = utc_text(datetime.now(timezone.utc)).encode("ascii")
                message["headers"] = [*message.get("headers", []), (SERVER_TIME_HEADER.lower().encode(), now)]
            await send(message)

        await self.app(scope, receive, send_with_time)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags
