"""How the HTTP API answers: JSON bodies, signed when the asker is a known
device, and every error as ``{"error": <machine code>, "detail": <sentence>}``.

Shared by the routes (:mod:`server.routes`), their dependencies
(:mod:`server.deps`) and the error handlers of :func:`server.api.create_app`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from server.schemas import ErrorOut
from sync.protocol import DEVICE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = [
    "ApiError",
    "respond",
    "respond_bytes",
    "error_answer",
    "validation_detail",
    "etag_matches",
    "UNSTORABLE",
    "ERROR_RESPONSES",
    "SIGNED_BODY_HEADERS",
    "SIGNED_GET_HEADERS",
]

UNSTORABLE = "a value in the request cannot be stored (a NUL character in text?); nothing was stored"

# For the OpenAPI description: the error answers a route may give, and the
# headers a device signs its requests with (read from the request by the
# dependencies of server.deps, so they are described here).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
SIGNED_BODY_HEADERS = [
    {"name": DEVICE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "the device's id"},
    {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "sha256=<hex HMAC-SHA256 of the body with the device secret>"},
]
SIGNED_GET_HEADERS = SIGNED_BODY_HEADERS[:1] + [
    {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "sha256=<hex HMAC of 'GET <path> <timestamp>'>"},
]


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


def respond(status: int, content: Any, *, secret: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (signed when ``secret`` is given)."""
    return respond_bytes(status, _json_bytes(content), secret=secret, headers=headers)


def respond_bytes(status: int, body: bytes, *, secret: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON answer whose body is already encoded (signed when ``secret`` is given)."""
    headers = dict(headers or {})
    if secret is not None:
        # Signed answers: a device only trusts acknowledgements from its own server.
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_answer(status: int, code: str, detail: str, **kwargs: Any) -> Response:
    """An error answer: ``{"error": code, "detail": detail}``."""
    return respond(status, {"error": code, "detail": detail}, **kwargs)


def validation_detail(exc: ValidationError | RequestValidationError) -> str:
    """The first problem of a validation error, as ``where: what``."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (so the answer is 304)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags
