"""How much the server lets one request take: the size of its body, the time
to send it, the connections open at once and the time spent waiting for the
database. Every limit is declared here, once.

* **Body sizes** (:data:`BODY_LIMITS`, :func:`body_limit`): each route's
  largest body. A ``Content-Length`` beyond it is refused at once with 413,
  before a byte of the body is read; a chunked body is counted as it arrives
  and cut at the limit. Anything not listed gets :data:`FORM_BODY_BYTES`.
* **Body time** (``--body-timeout``): a body must arrive whole within this
  many seconds of its headers, or the request is answered 408 and the
  connection closed (a client sending a byte a second cannot hold memory and
  a connection for ever).
* **Header time** (``--header-timeout``): a connection whose request headers
  have not arrived whole within this many seconds is closed
  (:mod:`server.runner`).
* **Body memory** (``--body-memory``): the bodies being received by all
  requests together; past it, 503 with ``Retry-After``.
* **Connections** (``--max-connections``, ``--keep-alive``): past the limit,
  uvicorn answers 503 at once; an idle kept-alive connection is closed after
  a few seconds.
* **Database waits** (``--db-wait``): how long a request waits for the
  database's write lock (SQLite) or a pooled connection, well below the
  tablets' 30-second read timeout; then it fails with 503 and ``Retry-After``.

:class:`RequestBounds` is the ASGI middleware applying the first two;
:class:`ServerLimits` holds the launch options.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from server.roster import MAX_UPLOAD_BYTES
from server.store.database import DB_WAIT_S
from sync.protocol import API_PREFIX, MAX_BATCH_RECORDS, MAX_BODY_BYTES

__all__ = [
    "KIB",
    "MIB",
    "RECORD_WIRE_BYTES",
    "BATCH_BODY_BYTES",
    "PAIRING_BODY_BYTES",
    "LOGIN_BODY_BYTES",
    "FORM_BODY_BYTES",
    "COMMENT_BODY_BYTES",
    "SURVEY_BODY_BYTES",
    "SETTINGS_BODY_BYTES",
    "PHOTO_BODY_BYTES",
    "BODY_LIMITS",
    "BODY_MEMORY_BYTES",
    "body_limit",
    "ServerLimits",
    "add_limit_arguments",
    "limits_from_arguments",
    "RequestBounds",
    "Refusal",
]

log = logging.getLogger("hailong.server")

KIB = 1024
MIB = 1024 * KIB

# The largest record an honest tablet sends, on the wire, with room to spare:
# a rating is about 700 bytes of JSON (two 64-digit hashes, a UUID, times
# and short ids); a details record naming several reasons a little more.
RECORD_WIRE_BYTES = 1600
BATCH_BODY_BYTES = 16 * KIB + MAX_BATCH_RECORDS * RECORD_WIRE_BYTES
"""A batch of the wire's largest size (:data:`MAX_BATCH_RECORDS` records) and its envelope."""
assert BATCH_BODY_BYTES <= MAX_BODY_BYTES, "the protocol promises tablets at least this much"

PAIRING_BODY_BYTES = 4 * KIB
"""A pairing request or poll: a device id, a label, a version (anyone may send one)."""
LOGIN_BODY_BYTES = 8 * KIB
"""The login form: a user name, a password of at most 1,024 characters, a path."""
FORM_BODY_BYTES = 64 * KIB
"""Every other dashboard form (cases, accounts, devices, exports…), and any route not listed."""
COMMENT_BODY_BYTES = 256 * KIB
"""A citizen's comment (20,000 characters, URL-encoded Vietnamese takes 9 bytes a letter)."""
SURVEY_BODY_BYTES = 512 * KIB
"""The questionnaire designer's form (the whole draft: up to 80 questions of
500 characters, each with up to 20 options, URL-encoded Vietnamese), and a
survey's answers from a phone or a paper form (text answers of 500 characters)."""
SETTINGS_BODY_BYTES = 128 * KIB
"""The commune-wide settings form (many fields)."""
PHOTO_BODY_BYTES = MAX_UPLOAD_BYTES + 4 * MIB
"""A roster form with an officer's photo (the photo's own limit, a photo kept
from the previous attempt, and the form's fields)."""

_MULTIPART = "multipart/form-data"

BODY_LIMITS: tuple[tuple[re.Pattern[str], int, str], ...] = (
    (re.compile(re.escape(f"{API_PREFIX}/batches")), BATCH_BODY_BYTES, ""),
    (re.compile(re.escape(f"{API_PREFIX}/pair/") + r"[^/]*"), PAIRING_BODY_BYTES, ""),
    (re.compile(r"/login"), LOGIN_BODY_BYTES, ""),
    (re.compile(r"/c/[^/]+|/gop-y"), COMMENT_BODY_BYTES, ""),
    (re.compile(r"/roster/settings"), SETTINGS_BODY_BYTES, ""),
    (re.compile(r"/surveys/questionnaires|/surveys/campaigns/[^/]+/paper|/s/[^/]+"), SURVEY_BODY_BYTES, ""),
    # Only as multipart: its file parts go to disk as they arrive, while a
    # URL-encoded form is held in memory whole.
    (re.compile(r"/roster/setup|/roster/officers/[^/]+"), PHOTO_BODY_BYTES, _MULTIPART),
)
"""Each route's body limit: (path, bytes, content type it applies to, empty
for any). The whole path must match; the first matching line wins."""

BODY_MEMORY_BYTES = 128 * MIB
"""Default of ``--body-memory``: the bytes of request bodies being received at
once, all requests together; past it, a new chunk is refused with 503."""


def body_limit(path: str, content_type: str = "") -> int:
    """The largest body, in bytes, a request to ``path`` with that
    ``Content-Type`` may carry."""
    for pattern, limit, only in BODY_LIMITS:
        if pattern.fullmatch(path) and content_type.lower().startswith(only):
            return limit
    return FORM_BODY_BYTES


@dataclass(frozen=True)
class ServerLimits:
    """The server's limits chosen at launch (``python -m server`` options)."""

    body_timeout_s: float = 30.0
    """Seconds a request's body may take to arrive, from its headers."""
    max_connections: int = 200
    """Connections and requests at once; past it, uvicorn answers 503."""
    keep_alive_s: float = 5.0
    """Seconds an idle kept-alive connection stays open."""
    db_wait_s: float = DB_WAIT_S
    """Seconds a request waits for the database's lock or a pooled connection."""
    body_memory_bytes: int = BODY_MEMORY_BYTES
    """Bytes of bodies being received at once, all requests together."""
    header_timeout_s: float = 10.0
    """Seconds a request's headers may take to arrive (from the connection, or the request's first byte)."""

    @property
    def retry_after_s(self) -> int:
        """What a 503 tells the client to wait before trying again."""
        return max(1, round(self.db_wait_s))

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn's own options for these limits."""
        return {"limit_concurrency": self.max_connections, "timeout_keep_alive": self.keep_alive_s}


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """The launch options of :class:`ServerLimits` on the server's command line."""
    default = ServerLimits()
    parser.add_argument("--body-timeout", type=_positive(float), default=default.body_timeout_s, metavar="SECONDS",
                        help="cut a request whose body has not arrived whole within this many seconds "
                             f"(408; default {default.body_timeout_s:g})")
    parser.add_argument("--header-timeout", type=_positive(float), default=default.header_timeout_s,
                        metavar="SECONDS", help="close a connection whose request headers have not arrived whole "
                                                f"within this many seconds (default {default.header_timeout_s:g})")
    parser.add_argument("--max-connections", type=_positive(int), default=default.max_connections, metavar="N",
                        help=f"connections and requests at once; past it, 503 (default {default.max_connections})")
    parser.add_argument("--keep-alive", type=_positive(float), default=default.keep_alive_s, metavar="SECONDS",
                        help=f"close an idle kept-alive connection after this long (default {default.keep_alive_s:g})")
    parser.add_argument("--db-wait", type=_positive(float), default=default.db_wait_s, metavar="SECONDS",
                        help="a request waits at most this long for the database, then gets 503 with "
                             f"Retry-After (default {default.db_wait_s:g})")
    memory_mib = default.body_memory_bytes // MIB
    parser.add_argument("--body-memory", type=_positive(int), default=memory_mib, metavar="MIB",
                        help="mebibytes of request bodies received at once, all requests together; past it, "
                             f"503 with Retry-After (default {memory_mib})")


def limits_from_arguments(args: argparse.Namespace) -> ServerLimits:
    """The :class:`ServerLimits` the command line asked for."""
    return ServerLimits(body_timeout_s=args.body_timeout, max_connections=args.max_connections,
                        keep_alive_s=args.keep_alive, db_wait_s=args.db_wait, body_memory_bytes=args.body_memory * MIB,
                        header_timeout_s=args.header_timeout)


@dataclass(frozen=True)
class Refusal:
    """A request refused before the application answered it."""

    status: int
    reason: str
    """``too_large`` (413), ``too_slow`` (408) or ``busy`` (503)."""
    detail: str


Answer = Callable[[dict[str, Any], Refusal], Awaitable[tuple[list[tuple[bytes, bytes]], bytes]]]
"""Draws a refusal: its headers and body, for a request's ASGI scope."""


class RequestBounds:
    """ASGI middleware bounding each request's body in size and time.

    The announced length is checked before anything is read. While the
    application reads, every chunk is counted and the whole body must arrive
    within ``body_timeout_s``; past either, the middleware answers itself
    (413 or 408, ``Connection: close``), tells the application the client
    has gone, and drops whatever the application answers after that. The
    bodies of all requests being answered may hold ``body_memory_bytes``
    together; a chunk beyond is refused the same way with 503 and
    ``Retry-After`` (many slow uploads at once cannot exhaust memory). A
    client going away while sending its body is logged as one line.

    ``answer`` draws the refusal (JSON for the API, a page for the dashboard)."""

    def __init__(self, app: Any, *, body_timeout_s: float, answer: Answer,
                 body_memory_bytes: int = BODY_MEMORY_BYTES, retry_after_s: int = 1):
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.answer = answer
        self.body_memory_bytes = body_memory_bytes
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        """Bytes of bodies received by requests still being answered (one event loop: no lock)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], _header(scope, b"content-type"))
        length = _content_length(scope)
        if length is not None and (length < 0 or length > limit):
            await self._refuse(scope, send, Refusal(413, "too_large", f"the body is larger than {limit} bytes"))
            return
        bounds = _BodyWatch(self, scope, receive, send, limit)
        # No length and not chunked: HTTP/1.1 says there is no body at all.
        bounds.complete = not length and not _header(scope, b"transfer-encoding")
        try:
            await self.app(scope, bounds.receive, bounds.send)
        except Exception:
            if bounds.refused:
                return  # our answer went out; what the application made of the cut-off body does not matter
            raise
        finally:
            self.in_flight -= bounds.size

    async def _refuse(self, scope: dict[str, Any], send: Any, refusal: Refusal) -> None:
        headers, body = await self.answer(scope, refusal)
        extra = [(b"retry-after", str(self.retry_after_s).encode())] if refusal.status == 503 else []
        await send({"type": "http.response.start", "status": refusal.status,
                    "headers": [*headers, *extra, (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _BodyWatch:
    """One request's body as the application reads it: counted and timed."""

    def __init__(self, bounds: RequestBounds, scope: dict[str, Any], receive: Any, send: Any, limit: int):
        self.bounds, self.scope, self._receive, self._send, self.limit = bounds, scope, receive, send, limit
        self.deadline = asyncio.get_running_loop().time() + bounds.body_timeout_s
        self.size = 0
        self.complete = False
        self.started = False
        self.refused = False

    async def receive(self) -> dict[str, Any]:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:
            return await self._receive()  # only a disconnect can come now: no deadline
        remaining = self.deadline - asyncio.get_running_loop().time()
        try:
            message = await asyncio.wait_for(self._receive(), timeout=max(remaining, 0.0))
        except TimeoutError:
            return await self._cut(Refusal(408, "too_slow",
                                           f"the body did not arrive within {self.bounds.body_timeout_s:g} s"))
        if message["type"] == "http.request":
            chunk = len(message.get("body", b""))
            if self.size + chunk > self.limit:
                return await self._cut(Refusal(413, "too_large", f"the body is larger than {self.limit} bytes"))
            if self.bounds.in_flight + chunk > self.bounds.body_memory_bytes:
                return await self._cut(Refusal(503, "busy", "too many requests are sending their bodies at once; "
                                                            "try again shortly"))
            self.size += chunk
            self.bounds.in_flight += chunk
            self.complete = not message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            log.warning("client went away while sending its body: %s %s (%d bytes received)",
                     self.scope.get("method"), self.scope.get("path"), self.size)
            self.complete = True
        return message

    async def _cut(self, refusal: Refusal) -> dict[str, Any]:
        log.warning("request cut off: %s %s: %s", self.scope.get("method"), self.scope.get("path"), refusal.detail)
        self.refused = True
        if not self.started:
            self.started = True
            await self.bounds._refuse(self.scope, self._send, refusal)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
            if not self.complete:
                # Answered before the body was all read: close the connection
                # after the answer rather than read (and discard) the rest.
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
        await self._send(message)


def _header(scope: dict[str, Any], name: bytes) -> str:
    """A request header's value ("" when absent)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _content_length(scope: dict[str, Any]) -> int | None:
    """The announced body length; -1 when the header is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() and len(text) < 20 else -1
    return None
