"""Running the web application: in the foreground for ``python -m server``,
or on a background thread (the benchmarks and the end-to-end tests start a
real server on a free loopback port this way)."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import ssl
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["serve", "keep_out_of_collections", "YOUNG_COLLECTION_EVERY", "tls_options", "proxy_options",
           "limit_options", "BackgroundServer"]


def tls_options(certfile: str | None, keyfile: str | None) -> dict[str, Any]:
    """uvicorn's options to serve HTTPS with a PEM certificate (chain) and key.

    Both files are loaded here once, so a wrong path, a key that does not
    match or a password-protected key stops the start with a plain message
    rather than a traceback from deep inside uvicorn."""
    if certfile is None and keyfile is None:
        return {}
    if not certfile or not keyfile:
        raise ValueError("HTTPS needs both --certfile and --keyfile")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile, password=lambda: b"")
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot use the certificate {certfile} with the key {keyfile}: {exc}") from exc
    return {"ssl_certfile": certfile, "ssl_keyfile": keyfile}


def proxy_options(behind_proxy: str | None) -> dict[str, Any]:
    """uvicorn's options for a reverse proxy at ``behind_proxy`` (its address,
    or a comma-separated list of addresses or networks).

    Only requests coming from those addresses may set the client address and
    the scheme through ``X-Forwarded-For`` / ``X-Forwarded-Proto``: anyone
    else sending them is ignored. Without a proxy the headers are never
    trusted."""
    if not behind_proxy:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": behind_proxy}


log = logging.getLogger("hailong.server")


class _HeaderTimedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers do
    not arrive whole within :attr:`header_timeout_s` of the connection or of
    the request's first byte. uvicorn has no such timeout of its own: a
    client sending a header line every few seconds would keep its connection
    (and a place under ``--max-connections``) for ever. The body's time is
    bounded by :class:`server.limits.RequestBounds`."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            if self.parser is not None and self.headers:  # some of a request came, not all of its headers
                log.warning("request headers too slow from %s: connection closed", self.client and self.client[0])
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        # Idle now: uvicorn's kept-alive timeout takes over until the next request begins.
        self._cancel_header_timer()
        super().on_response_complete()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


def limit_options(app: FastAPI) -> dict[str, Any]:
    """uvicorn's options for the application's :class:`~server.limits.ServerLimits`
    (connections at once, kept-alive idle time, the time headers may take)."""
    limits = getattr(app.state, "limits", None)
    if limits is None:
        return {}
    protocol = type("HeaderTimedProtocol", (_HeaderTimedProtocol,), {"header_timeout_s": limits.header_timeout_s})
    return {**limits.uvicorn_options(), "http": protocol}


def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info", certfile: str | None = None,
          keyfile: str | None = None, behind_proxy: str | None = None) -> None:
    """Serve until interrupted: plain HTTP, HTTPS with ``certfile`` and
    ``keyfile``, and trusting forwarded headers from ``behind_proxy`` only;
    with the connection limits the application was created with."""
    keep_out_of_collections()
    uvicorn.run(app, host=host, port=port, log_level=log_level, **tls_options(certfile, keyfile),
                **proxy_options(behind_proxy), **limit_options(app))


YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between two collections of the youngest generation in the
server: several times what a batch of 1,000 records makes (Python's
default is 700)."""


def keep_out_of_collections() -> None:
    """Leave what the server has built so far (modules, the application,
    its compiled queries and models) out of the garbage collector's rounds.

    A batch makes thousands of short-lived objects, so collections come
    often, and the older generations' rounds walked the few hundred thousand
    objects made at start as well. Those live as long as the server does:
    the collector never needs to look at them again.

    The youngest generation is also collected only every
    :data:`YOUNG_COLLECTION_EVERY` allocations instead of 700: a batch's
    objects (a dict, a record and an outcome per record) hold no cycles and
    are freed by their reference counts when the batch is answered, so
    collecting them while the batch is at work only walks them in vain."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)


class BackgroundServer:
    """A real HTTP server on its own thread, bound to ``host`` (loopback by
    default) and a free port. Use as a context manager; ``url`` is its address."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, **config: Any):
        self.app = app
        self.host = host
        # IPPROTO_TCP named explicitly: asyncio only turns Nagle off (TCP_NODELAY)
        # on sockets that say they are TCP, and with Nagle on, every kept-alive
        # request waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        config = {**limit_options(app), **config}
        self._config = uvicorn.Config(app, log_level=config.pop("log_level", "warning"), lifespan="off",
                                      access_log=False, **config)
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="hailong-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
