"""Shared pieces of the sync and server tests: a real server on loopback, a
paired tablet, and a fault-injecting proxy. (No tests here.)"""

from __future__ import annotations

import http.client
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from ruamel.yaml import YAML
from sqlalchemy import create_engine, make_url, select
from sqlalchemy.pool import NullPool

from kiosk.config import load_settings
from kiosk.desk import DeviceClock, RatingDesk
from kiosk.link.backoff import Backoff
from kiosk.link.credentials import save_credentials
from kiosk.link.pairing import PairingClient
from kiosk.link.sealing import seal_after_pairing
from kiosk.link.uploader import Uploader
from kiosk.store import Store
from server.api import create_app
from server.clock import utc_now
from server.registry import DeviceRegistry
from server.runner import BackgroundServer
from server.store import open_engine, tables
from server.store.records import record_of_row
from sync.protocol import API_PREFIX, DEVICE_HEADER, SIGNATURE_HEADER, sign
from sync.record import Record
from tests.conftest import load_demo_tree, write_config

__all__ = [
    "Commune", "Tablet", "FaultProxy", "ManualClock", "fast_backoff",
    "as_attacker", "stored", "server_records", "findings", "post", "roster_file",
    "TEST_DATABASE_URL", "sqlite_only", "ScratchDatabase",
]

# Opt-in: a SQLAlchemy URL of a PostgreSQL server (any database on it that
# the user may connect to, and a user allowed to create databases). Each
# Commune then gets a database of its own there instead of a SQLite file.
TEST_DATABASE_URL = os.environ.get("HAILONG_TEST_DATABASE_URL") or None

sqlite_only = pytest.mark.skipif(
    TEST_DATABASE_URL is not None,
    reason="inspects the SQLite file itself; HAILONG_TEST_DATABASE_URL runs the server on another database",
)


class ScratchDatabase:
    """A uniquely named, empty database on the server of ``TEST_DATABASE_URL``,
    dropped by :meth:`drop`. ``url`` is what ``open_engine`` and ``--db`` take."""

    def __init__(self, base_url: str):
        base = make_url(base_url)
        # Unique across test workers and runs; lower case, so unquoted it is the same name.
        self.name = f"hailong_test_{uuid.uuid4().hex[:20]}"
        # CREATE/DROP DATABASE cannot run inside a transaction; no pool, so no
        # connection of ours is left open on the server afterwards.
        self._admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.url = base.set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        # FORCE: a server thread still closing its connection must not keep the database alive.
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()


def fast_backoff(seed: int = 1) -> Backoff:
    """Backoff for tests: milliseconds, not seconds."""
    return Backoff(base_s=0.005, cap_s=0.05, rng=random.Random(seed))


class ManualClock:
    """A server clock that moves only when the test says so, for whatever
    depends on the server's time (pairing expiry and polling, the signed-GET
    window, batch arrival). It starts at the real time ``offset_s`` seconds
    from now; pass it as ``Commune(..., clock=clock)``."""

    def __init__(self, offset_s: float = 0.0):
        self.now = utc_now() + timedelta(seconds=offset_s)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        with self._lock:
            self.now += timedelta(seconds=seconds)


class Commune:
    """A real commune server on a free loopback port, on a real SQLite file
    (or a fresh database on the server of ``HAILONG_TEST_DATABASE_URL``)."""

    def __init__(self, tmp_path: Path, **options: Any):
        self.scratch: ScratchDatabase | None = None
        if TEST_DATABASE_URL is not None:
            self.scratch = ScratchDatabase(TEST_DATABASE_URL)
            # What the CLI's --db takes, as the SQLite path is.
            self.db_path: Path | str = self.scratch.url
        else:
            self.db_path = tmp_path / "server" / "commune.db"
        self.engine = open_engine(self.db_path)
        options.setdefault("pair_interval_s", 0)
        # The technician's side (approve, revoke) keeps the server's time.
        self.clock = options.get("clock", utc_now)
        self.app = create_app(self.engine, **options)
        self.server = BackgroundServer(self.app)
        self.registry = DeviceRegistry(self.engine, clock=self.clock)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Commune:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop()
        self.engine.dispose()
        if self.scratch is not None:
            self.scratch.drop()


@dataclass
class Tablet:
    """A tablet: its config, store, rating desk and (once paired) uploader."""

    directory: Path
    server_url: str
    clock: DeviceClock = field(default_factory=DeviceClock)
    tree_changes: Callable[[dict], None] | None = None

    def __post_init__(self) -> None:
        tree = load_demo_tree()
        tree["server"] = {"url": self.server_url}
        tree["storage"] = {"database": "data/tablet.db"}
        tree["rating"]["burst_interval_s"] = 0
        if self.tree_changes:
            self.tree_changes(tree)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path = write_config(self.directory, tree)
        self.settings = load_settings(self.config_path)
        self.store = Store(self.settings.database)
        self.desk = RatingDesk(self.settings, self.store, self.clock)

    @property
    def db_path(self) -> Path:
        return self.settings.database

    def rate(self, count: int, *, fast: bool = True) -> list:
        """Make ``count`` real ratings through the rating desk."""
        if fast:
            # Test data only: skip the fsync of every commit (the store's
            # durability is tested elsewhere); the records are the same.
            self.store.db.execute("PRAGMA synchronous=OFF")
        officers = [o.id for o in self.settings.active_officers]
        made = [self.desk.rate(officers[i % len(officers)], 1 + i % self.settings.scale) for i in range(count)]
        self.store.db.execute("PRAGMA synchronous=FULL")
        return made

    def pair(self, commune: Commune) -> None:
        """Pair through the real RFC 8628 flow: request, approve, poll."""
        client = PairingClient(self.server_url)
        authorization = client.start(self.store.device_id, self.settings.counter_name, "0.1.0")
        commune.registry.decide(authorization.user_code, approve=True)
        credentials = client.wait(authorization, sleep=lambda s: None)
        save_credentials(self.store.device_secret_path, credentials)
        # Right after the secret, as the kiosk does: the first sealing key goes to the server.
        seal_after_pairing(self.db_path, credentials, self.server_url)

    def uploader(self, **options: Any) -> Uploader:
        options.setdefault("backoff", fast_backoff())
        options.setdefault("timeout", (2.0, 5.0))
        options.setdefault("idle_interval_s", 0.2)
        return Uploader(self.db_path, self.server_url, clock=self.clock, **options)

    def close(self) -> None:
        self.store.close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _relay(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy.choose()
        if fault == "drop":  # connection closed without an answer, nothing forwarded
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "stall":  # never answers in time, nothing forwarded
            time.sleep(proxy.stall_s)
            self.close_connection = True
            return
        if fault in ("500", "502", "503", "503-retry-after", "503-retry-1"):
            status = int(fault[:3])
            payload = b'{"error":"proxy","detail":"injected"}'
            self.send_response(status)
            if fault == "503-retry-after":
                self.send_header("Retry-After", "0")
            if fault == "503-retry-1":
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        # Forward to the real server.
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        content = response.read()
        response_headers = response.getheaders()
        upstream.close()
        proxy.forwarded += 1
        if fault == "lose-answer":  # the server committed; the tablet never hears it
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "committed-502":  # committed, but the tablet is told it failed
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(response.status)
        for name, value in response_headers:
            if name.lower() not in ("transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.end_headers()
        if fault == "truncate":  # headers promise the whole body, half arrives
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(content)

    do_GET = do_POST = _relay


class FaultProxy:
    """An HTTP proxy on loopback that fails a share of the requests in
    the ways a commune network does."""

    FAULTS = ("drop", "stall", "500", "502", "503", "503-retry-after", "lose-answer", "committed-502", "truncate")

    def __init__(self, upstream_port: int, failure_rate: float, *, seed: int = 7, stall_s: float = 0.6,
                 faults: tuple[str, ...] = FAULTS, script: list[str] | None = None):
        self.script = list(script or [])  # faults to play first, in order
        self.upstream_port = upstream_port
        self.failure_rate = failure_rate
        self.stall_s = stall_s
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.forwarded = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self.httpd.daemon_threads = True
        self.httpd.proxy = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def choose(self) -> str:
        with self.lock:
            if self.script:
                fault = self.script.pop(0)
                self.counts[fault] = self.counts.get(fault, 0) + 1
                return fault
            fault = self.rng.choice(self.faults) if self.rng.random() < self.failure_rate else "ok"
            self.counts[fault] = self.counts.get(fault, 0) + 1
            return fault

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.total - self.counts.get("ok", 0)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def shifted_clock(offset_s: float) -> DeviceClock:
    """A device clock ``offset_s`` seconds off (negative: behind)."""
    from kiosk.store import local_now

    return DeviceClock(now=lambda: local_now() + timedelta(seconds=offset_s))


# -- helpers shared by the tamper, roster and review tests ---------------------


def as_attacker(tablet: Tablet, *sql: str) -> None:
    """Change the tablet's journal behind the app's back, triggers dropped first."""
    conn = tablet.store.db.conn
    conn.execute("DROP TRIGGER IF EXISTS journal_no_update")
    conn.execute("DROP TRIGGER IF EXISTS journal_no_delete")
    for statement in sql:
        conn.execute(statement)


def stored(commune: Commune, device_id: str) -> dict[int, dict]:
    """The records the server keeps for a device, by sequence number; each
    row's ``record`` is the record rebuilt from its columns."""
    with commune.engine.begin() as conn:
        rows = conn.execute(select(tables.records).where(tables.records.c.device_id == device_id)).mappings().all()
    return {r["seq"]: dict(r, record=record_of_row(r)) for r in rows}


def server_records(commune: Commune, device_id: str) -> list[Record]:
    """The records the server keeps for a device, in sequence order, as the tablet sent them."""
    return [row["record"] for _, row in sorted(stored(commune, device_id).items())]


def findings(commune: Commune, device_id: str) -> list[tuple[int, str]]:
    """The server's findings on a device, as (seq, problem)."""
    return [(f["seq"], f["problem"]) for f in commune.registry.health(device_id)[0]["findings"]]


def post(commune: Commune, device_id: str, secret: str, body: bytes) -> requests.Response:
    """Send a batch body signed with ``secret``, as ``device_id``."""
    return requests.post(f"{commune.url}{API_PREFIX}/batches", data=body, timeout=10, headers={
        "Content-Type": "application/json", DEVICE_HEADER: device_id, SIGNATURE_HEADER: sign(secret, body)})


def roster_file(tablet: Tablet, counters: int = 2) -> Path:
    """The tablet's config as a roster file for the server, with ``counters`` counters."""
    tree = YAML(typ="safe").load(tablet.config_path.read_text(encoding="utf-8"))
    tree["counters"] = [{"id": f"quay-{i}", "name": f"Quầy số {i}"} for i in range(1, counters + 1)]
    path = tablet.directory / "roster.yaml"
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False  # block style: flow style wraps long values unreadably
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(tree, fh)
    return path
