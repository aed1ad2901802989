"""Running the web application: in the foreground for ``python -m server``,
or on a background thread (the benchmarks and the end-to-end tests start a
real server on a free loopback port this way)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["serve", "BackgroundServer"]


def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info") -> None:
    """Serve until interrupted."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)


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
