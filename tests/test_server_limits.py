"""The server's limits, on a real server process over loopback: bodies too
large or too slow, a database locked by another process, a full disk.

The server runs as ``python -m server`` in its own process, so its memory
(``VmRSS``) is its own, and a database locked by the test is locked by
another process, as it would be by a backup tool or a stuck script."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from fastapi.routing import APIRoute
from sqlalchemy import event

from kiosk.link.credentials import load_credentials
from kiosk.link.roster import RosterSync
from kiosk.link.transport import ServerLink
from kiosk.link.uploader import build_batch_body
from kiosk.store.outbox import Outbox
from server.accounts import AccountBook, Role
from server.limits import BATCH_BODY_BYTES, FORM_BODY_BYTES, PHOTO_BODY_BYTES, RECORD_WIRE_BYTES, body_limit
from server.registry import DeviceRegistry
from server.roster import RosterStore
from server.routes import ROUTERS
from server.store import open_engine
from server.web import PAGE_ROUTERS
from sync.protocol import API_PREFIX, DEVICE_HEADER, MAX_BATCH_RECORDS, SIGNATURE_HEADER, ErrorCode, sign, verify
from tests.sync_support import Commune, Tablet, roster_file, sqlite_only, stored
from tests.web.support import api_login

ROOT = Path(__file__).resolve().parents[1]
BODY_TIMEOUT_S = 1.5
HEADER_TIMEOUT_S = 1.0
DB_WAIT_S = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m server`` on a free loopback port, its output in a log file.
    ``registry`` approves pairings, as the technician's command line would."""

    def __init__(self, directory: Path, *options: str, db_path: Path | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path or directory / "commune.db"
        self.port = free_port()
        self.log_path = directory / "server.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--db", str(self.db_path), "--port", str(self.port),
             "--pair-interval", "0", *options],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}{API_PREFIX}/health", timeout=1)
                break
            except requests.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {self.log_path.read_text()}") from None
                time.sleep(0.05)
        self.engine = open_engine(self.db_path)
        self.registry = DeviceRegistry(self.engine)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        self.engine.dispose()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = ServerProcess(tmp_path_factory.mktemp("limits"), "--body-timeout", str(BODY_TIMEOUT_S),
                            "--header-timeout", str(HEADER_TIMEOUT_S), "--db-wait", str(DB_WAIT_S),
                            "--max-connections", "400")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def known_device(server) -> str:
    """The header naming a tablet paired with ``server``: a batch from a
    device the server does not know is refused before its body is read, so
    the body limits of the batch route are met by a known one."""
    return f"{DEVICE_HEADER}: {pair_in_registry(server.registry, 'limits-tablet')}"


def pair_in_registry(registry: DeviceRegistry, device_id: str) -> str:
    """Pair ``device_id`` straight in the registry; its id."""
    code = registry.request_code(device_id, "limits", "0.1.0")
    registry.decide(code.user_code, approve=True)
    registry.poll(code.device_code)
    return device_id


@pytest.fixture(scope="module")
def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route of the API and the dashboard, path
    parameters filled in; and a static file and a path that does not exist."""
    found = [("GET", "/openapi.json"), ("GET", "/static/app.css"), ("POST", "/no-such-page")]
    for router in (*ROUTERS, *PAGE_ROUTERS):
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            found += [(method, path) for method in sorted(route.methods)]
    assert len(found) > 40
    return found


def exchange(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send a raw request (head, then as much of ``body`` as the server takes)
    and read the answer up to the connection's end."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server stopped reading: its answer is what counts
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head_text, _, content = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, content


def request_head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def chunked(total: int, piece: int = 64 * 1024) -> bytes:
    """``total`` bytes of a form-like body in HTTP chunks, without the final empty chunk."""
    parts, left = [], total
    while left > 0:
        size = min(piece, left)
        parts.append(f"{size:x}\r\n".encode() + b"a" * size + b"\r\n")
        left -= size
    return b"".join(parts)


def test_the_batch_limit_holds_the_wire_s_largest_batch(tmp_path):
    """A batch of the wire's largest size, made of real records, fits the batch route's limit."""
    tablet = Tablet(tmp_path / "tablet", "http://127.0.0.1:9")
    try:
        tablet.rate(20)
        records = Outbox(tablet.store).next_batch(20).records
        largest = max(len(json.dumps(r.to_dict(), ensure_ascii=False)) for r in records)
    finally:
        tablet.close()
    assert largest * 2 <= RECORD_WIRE_BYTES
    assert BATCH_BODY_BYTES >= MAX_BATCH_RECORDS * largest
    assert body_limit(f"{API_PREFIX}/batches") == BATCH_BODY_BYTES
    # The photo route's large limit holds for multipart only: a URL-encoded form is kept in memory whole.
    assert body_limit("/roster/officers/new", "multipart/form-data; boundary=x") == PHOTO_BODY_BYTES
    assert body_limit("/roster/officers/new", "application/x-www-form-urlencoded") == FORM_BODY_BYTES


@pytest.mark.slow
def test_an_announced_oversized_body_is_refused_at_once_on_every_route(server, every_route):
    before = server.rss()
    for method, path in every_route:
        limit = body_limit(path, "multipart/form-data; boundary=x")
        started = time.monotonic()
        # 300 MB announced; none of it sent: the answer must not wait for it.
        status, headers, content = exchange(server.port, request_head(
            method, path, "Content-Type: multipart/form-data; boundary=x", f"Content-Length: {300 * 1024 * 1024}"))
        assert status == 413, (method, path, content[:200])
        assert time.monotonic() - started < 2
        assert headers.get("connection") == "close"
        if path.startswith(API_PREFIX) or path == "/openapi.json":
            assert json.loads(content)["error"] == ErrorCode.TOO_LARGE
        else:
            assert "text/html" in headers["content-type"] and b'data-reason="too_large"' in content
        # One byte over the limit is refused too; exactly the limit is not refused for its size.
        status, _h, _c = exchange(server.port, request_head(method, path, f"Content-Length: {limit + 1}",
                                                             "Content-Type: multipart/form-data; boundary=x"))
        assert status == 413
    assert server.rss() - before < 4 * 1024 * 1024


@pytest.mark.slow
def test_a_chunked_oversized_body_is_cut_at_the_limit(server, every_route, known_device):
    posts = [path for method, path in every_route if method == "POST"]

    def send_to_every_route() -> dict[str, int]:
        answers = {}
        for path in posts:
            content_type = "application/json" if path.startswith(API_PREFIX) else "application/x-www-form-urlencoded"
            limit = body_limit(path, content_type)
            signed = (known_device,) if path.startswith(API_PREFIX) else ()
            status, headers, _content = exchange(server.port, request_head(
                "POST", path, "Transfer-Encoding: chunked", f"Content-Type: {content_type}", *signed),
                chunked(limit + 1))
            answers[path] = status
            # Cut at the limit, or answered without reading the body at all
            # (a form route that refuses an anonymous caller first): either way
            # the connection is closed rather than the rest read.
            assert status == 413 or headers.get("connection") == "close", (path, status)
        return answers

    # A first round warms up: the allocator takes memory it keeps for the
    # largest body, and each route's first request loads what it lazily
    # needs (a few MiB more as the routes grow in number). The second round
    # must not grow the server: no body is kept.
    send_to_every_route()
    before = server.rss()
    answers = send_to_every_route()
    # The routes anyone may send a body to read it, and are cut.
    for path in (f"{API_PREFIX}/batches", f"{API_PREFIX}/pair/device-code", f"{API_PREFIX}/pair/token", "/login",
                 "/c/x", "/gop-y", "/roster/setup", "/roster/officers/new"):
        assert answers[path] == 413, (path, answers[path])
    assert server.rss() - before < 6 * 1024 * 1024


@pytest.mark.slow
def test_slow_bodies_are_cut_off_within_the_timeout(server, known_device):
    before = server.rss()
    head = request_head("POST", f"{API_PREFIX}/batches", "Content-Type: application/json",
                        f"Content-Length: {BATCH_BODY_BYTES}", known_device)
    socks = []
    for _ in range(100):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(head + b"{" + b" " * 4096)
        socks.append(sock)
    # Keep dribbling a byte a tenth of a second; every connection must be cut.
    answers, closed_at = dribble_until_closed(socks, b" ", BODY_TIMEOUT_S + 5)
    assert max(closed_at.values()) < BODY_TIMEOUT_S + 2
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers.values()), {a[:40] for a in answers.values()}
    # A few MiB: the interpreter and allocator move by that much with 100 connections open.
    assert server.rss() - before < 12 * 1024 * 1024
    # And the server is as responsive as before.
    assert requests.get(f"{server.url}{API_PREFIX}/health", timeout=2).status_code == 200


def dribble_until_closed(socks: list[socket.socket], piece: bytes, within_s: float) -> tuple[dict, dict]:
    """Send ``piece`` on every open socket each tenth of a second until the
    server closes them all (or ``within_s`` passes): what each received, and when it was closed."""
    started = time.monotonic()
    open_socks = {s.fileno(): s for s in socks}
    answers: dict[int, bytes] = {fd: b"" for fd in open_socks}
    closed_at: dict[int, float] = {}
    while open_socks and time.monotonic() - started < within_s:
        readable, _w, _x = select.select(list(open_socks.values()), [], [], 0.1)
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            answers[sock.fileno()] += chunk
            if not chunk:
                closed_at[sock.fileno()] = time.monotonic() - started
                del open_socks[sock.fileno()]
        for sock in open_socks.values():
            try:
                sock.send(piece)
            except OSError:
                pass
    for sock in socks:
        sock.close()
    assert not open_socks, f"{len(open_socks)} connections still open"
    return answers, closed_at


@pytest.mark.slow
def test_slow_headers_are_cut_off_within_the_timeout(server):
    socks = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST /api/v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(sock)
    _answers, closed_at = dribble_until_closed(socks, b"X-A: b\r\n", HEADER_TIMEOUT_S + 5)
    assert max(closed_at.values()) < HEADER_TIMEOUT_S + 1.5
    assert requests.get(f"{server.url}{API_PREFIX}/health", timeout=2).status_code == 200


@pytest.mark.slow
def test_past_the_connection_limit_the_answer_is_503_at_once(tmp_path):
    running = ServerProcess(tmp_path, "--max-connections", "10", "--body-timeout", "5")
    socks = []
    try:
        known = f"{DEVICE_HEADER}: {pair_in_registry(running.registry, 'limits-tablet')}"
        head = request_head("POST", f"{API_PREFIX}/batches", "Content-Type: application/json", "Content-Length: 100",
                            known)
        for _ in range(9):  # nine requests in progress, their bodies unfinished
            sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            sock.sendall(head + b"{")
            socks.append(sock)
            time.sleep(0.05)
        for sock in socks:  # all nine let in: they wait for their bodies
            sock.settimeout(0.05)
            with pytest.raises(TimeoutError):
                sock.recv(64)
        # The tenth connection at once is past the limit: refused at once, not queued.
        started = time.monotonic()
        status, _headers, _content = exchange(running.port, request_head("GET", f"{API_PREFIX}/health"))
        assert status == 503 and time.monotonic() - started < 1
        for sock in socks:
            sock.close()
        time.sleep(0.3)
        assert exchange(running.port, request_head("GET", f"{API_PREFIX}/health"))[0] == 200
    finally:
        for sock in socks:
            sock.close()
        running.stop()


@pytest.mark.slow
def test_a_client_going_away_is_one_log_line(server):
    lines_before = server.log().count("\n")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request_head("POST", f"{API_PREFIX}/pair/device-code", "Content-Type: application/json",
                                  "Content-Length: 1000") + b'{"device_id": ')
        time.sleep(0.2)
    time.sleep(0.5)
    new = server.log().splitlines()[lines_before:]
    assert any("client went away" in line for line in new), new
    assert not any("Traceback" in line or "Exception in ASGI" in line for line in new), new


class WriteLock:
    """Another process's connection holding the database's write lock (BEGIN IMMEDIATE)."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> WriteLock:
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.readline(); c.rollback()")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(self.db_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(10)


def pair(server: ServerProcess, directory: Path) -> Tablet:
    tablet = Tablet(directory, server.url)
    tablet.pair(server)
    return tablet


@sqlite_only
@pytest.mark.slow
def test_a_locked_database_leaves_health_and_reads_quick_and_fails_the_writes_fast(server, tmp_path):
    tablet = pair(server, tmp_path / "tablet")
    credentials = load_credentials(tablet.store.device_secret_path)
    engine = open_engine(server.db_path)
    RosterStore(engine).import_file(roster_file(tablet))
    AccountBook(engine).create("kythuat", "mat khau dai du 123", Role.ADMIN, display_name="Kỹ thuật")
    AccountBook(engine).create("lanhdao", "mat khau dai du 456", Role.LEADER, display_name="Lãnh đạo")
    engine.dispose()
    link = ServerLink(server.url, credentials)
    # The first fetch makes the server's call-back key (a write): before the lock.
    assert RosterSync(tmp_path / "roster-before", link).fetch() is not None
    tablet.rate(3)
    body = build_batch_body(Outbox(tablet.store).next_batch(3), credentials.device_id,
                            sent_at="2026-03-02T08:00:00.000+07:00", sent_monotonic_ns=1, boot_id="b",
                            app_version="0.1.0", pending=0)
    batch_headers = {"Content-Type": "application/json", DEVICE_HEADER: credentials.device_id,
                     SIGNATURE_HEADER: sign(credentials.secret, body)}
    admin = api_login(server.url, "kythuat", "mat khau dai du 123")
    leader = api_login(server.url, "lanhdao", "mat khau dai du 456")
    try:
        with WriteLock(server.db_path):
            # Many uploads waiting on the lock at once: health must not queue behind them.
            waiting = [threading.Thread(target=requests.post, args=(f"{server.url}{API_PREFIX}/batches",),
                                        kwargs={"data": body, "headers": batch_headers, "timeout": 10})
                       for _ in range(60)]
            for thread in waiting:
                thread.start()
            time.sleep(0.2)  # they are all in, waiting on the lock
            times = []
            for _ in range(10):
                started = time.monotonic()
                answer = requests.get(f"{server.url}{API_PREFIX}/health", timeout=5)
                times.append(time.monotonic() - started)
                assert answer.status_code == 200
            assert max(times) < 0.1, times
            for thread in waiting:
                thread.join()

            # Reads take no lock: a tablet's roster and portraits, and the
            # login page, come while another writer holds the database.
            started = time.monotonic()
            roster = RosterSync(tmp_path / "roster-during", link).fetch()
            assert roster is not None and roster["officers"]
            browser = requests.Session()
            form = browser.get(f"{server.url}/login", timeout=10)
            assert form.status_code == 200
            assert time.monotonic() - started < DB_WAIT_S, time.monotonic() - started
            # So do the pages of those signed in: the session, the devices, the cases and the
            # comments (their cases, names and letters) are read.
            devices = admin.get(f"{server.url}/devices", timeout=10)
            assert devices.status_code == 200 and credentials.device_id in devices.text
            assert leader.get(f"{server.url}/cases", timeout=10).status_code == 200
            assert leader.get(f"{server.url}/comments", timeout=10).status_code == 200
            assert time.monotonic() - started < DB_WAIT_S, time.monotonic() - started
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)

            # What writes (an upload, a login) fails fast, saying the database is busy.
            login = {"username": "kythuat", "password": "mat khau dai du 123", "csrf": csrf, "next": "/devices"}
            for method, url, kwargs in (
                ("POST", f"{server.url}{API_PREFIX}/batches", {"data": body, "headers": batch_headers}),
                ("POST", f"{server.url}/login", {"data": login, "allow_redirects": False}),
            ):
                started = time.monotonic()
                answer = browser.request(method, url, timeout=10, **kwargs)
                took = time.monotonic() - started
                assert answer.status_code == 503, (url, answer.status_code, answer.text[:200])
                assert int(answer.headers["Retry-After"]) >= 1
                assert took < DB_WAIT_S * 3 + 1, (url, took)
                if "/api/" in url:
                    assert answer.json()["error"] == ErrorCode.BUSY
                else:
                    assert 'data-reason="busy"' in answer.text
        # The lock gone, the same requests go through.
        assert browser.post(f"{server.url}/login", data=login, timeout=10).url.endswith("/devices")
        answer = requests.post(f"{server.url}{API_PREFIX}/batches", data=body, headers=batch_headers, timeout=10)
        assert answer.status_code == 200 and answer.json()["counts"]["stored"] == 3, answer.text
    finally:
        tablet.close()


def fill(path: Path) -> None:
    """Write ``path`` until the disk has no room left, in ever smaller pieces."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for piece in (1024 * 1024, 65536, 4096, 512):
            try:
                while True:
                    os.write(fd, b"\0" * piece)
            except OSError:
                pass
    finally:
        os.close(fd)


def count_records(server: ServerProcess) -> int:
    with server.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM records").scalar()


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


@sqlite_only
@pytest.mark.slow
def test_a_full_disk_is_disk_full_and_loses_nothing(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "6m"):
        pytest.skip("needs root and a tmpfs mount")
    running = None
    tablet = None
    try:
        running = ServerProcess(tmp_path / "run", db_path=disk / "commune.db")
        tablet = pair(running, tmp_path / "tablet")
        made = tablet.rate(300)
        filler = disk / "filler"
        fill(filler)
        uploader = tablet.uploader(batch_size=100)
        status = uploader.run_once(max_attempts=1)
        assert status.pending == 300, status
        assert "507" in (status.last_error or ""), status
        health = requests.get(f"{running.url}{API_PREFIX}/health", timeout=5).json()
        assert health["disk"] == "full"
        assert count_records(running) == 0
        # The refusal itself: 507 disk_full with Retry-After, signed for the tablet to trust it.
        credentials = load_credentials(tablet.store.device_secret_path)
        body = build_batch_body(Outbox(tablet.store).next_batch(10), credentials.device_id,
                                sent_at="2026-03-02T08:00:00.000+07:00", sent_monotonic_ns=1, boot_id="b",
                                app_version="0.1.0", pending=290)
        answer = requests.post(f"{running.url}{API_PREFIX}/batches", data=body, timeout=10, headers={
            "Content-Type": "application/json", DEVICE_HEADER: credentials.device_id,
            SIGNATURE_HEADER: sign(credentials.secret, body)})
        assert answer.status_code == 507, answer.text
        assert answer.json()["error"] == ErrorCode.DISK_FULL
        assert int(answer.headers["Retry-After"]) >= 1
        assert verify(credentials.secret, answer.content, answer.headers.get(SIGNATURE_HEADER))
        assert count_records(running) == 0

        filler.unlink()
        status = uploader.run_once(max_attempts=3)
        assert status.pending == 0, status
        with running.engine.connect() as conn:
            uuids = [r[0] for r in conn.exec_driver_sql("SELECT uuid FROM records").all()]
        assert len(uuids) == len(set(uuids)) == 300
        assert set(uuids) == {r.uuid for r in made}
        assert requests.get(f"{running.url}{API_PREFIX}/health", timeout=5).json()["disk"] != "full"
    finally:
        if tablet is not None:
            tablet.close()
        if running is not None:
            running.stop()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _log_in_admin(commune: Commune) -> requests.Session:
    AccountBook(commune.engine).create("kythuat", "mat khau dai du 123", Role.ADMIN, display_name="Kỹ thuật")
    session = requests.Session()
    form = session.get(f"{commune.url}/login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = session.post(f"{commune.url}/login", timeout=10, data={
        "username": "kythuat", "password": "mat khau dai du 123", "csrf": csrf, "next": "/devices"})
    assert answer.status_code == 200 and answer.url.endswith("/devices")
    return session


@sqlite_only
@pytest.mark.slow
def test_a_database_too_full_to_grow_answers_disk_full_and_loses_nothing(tmp_path):
    """Without root: SQLite's page limit gives the very error of a full disk
    ("database or disk is full"), and the tablet's records all arrive once
    the limit is lifted."""
    with Commune(tmp_path) as commune:
        tablet = pair(commune, tmp_path / "tablet")
        admin = _log_in_admin(commune)
        try:
            made = tablet.rate(120)
            full = {"on": True}

            def cap_pages(conn) -> None:
                # At the file's current size: any write needing a new page fails.
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
                conn.exec_driver_sql(f"PRAGMA max_page_count = {pages if full['on'] else 2**30}")

            event.listen(commune.engine, "begin", cap_pages)
            uploader = tablet.uploader(batch_size=60)
            status = uploader.run_once(max_attempts=1)
            assert status.pending == 120 and "507" in (status.last_error or ""), status
            assert stored(commune, tablet.store.device_id) == {}
            assert requests.get(f"{commune.url}{API_PREFIX}/health", timeout=5).json()["disk"] == "full"
            page = admin.get(f"{commune.url}/devices", timeout=10)
            # The page shows the alarm, or (when showing it needs a write, e.g. a session's
            # last-seen time) is itself refused as disk full.
            assert (page.status_code == 200 and 'class="alert error disk-alarm"' in page.text) or \
                (page.status_code == 507 and 'data-reason="disk_full"' in page.text), page.status_code

            full["on"] = False
            status = uploader.run_once(max_attempts=3)
            assert status.pending == 0, status
            kept = stored(commune, tablet.store.device_id)
            assert sorted(r["seq"] for r in kept.values()) == sorted(r.seq for r in made)
            assert requests.get(f"{commune.url}{API_PREFIX}/health", timeout=5).json()["disk"] != "full"
            assert 'disk-alarm' not in admin.get(f"{commune.url}/devices", timeout=10).text or \
                commune.app.state.disk_alarm.state().low
        finally:
            tablet.close()


@pytest.mark.slow
def test_the_devices_page_shows_the_disk_alarm(tmp_path):
    with Commune(tmp_path) as commune:
        admin = _log_in_admin(commune)
        assert "disk-alarm" not in admin.get(f"{commune.url}/devices", timeout=10).text or \
            commune.app.state.disk_alarm.state().low
        commune.app.state.disk_alarm.refused()
        page = admin.get(f"{commune.url}/devices", timeout=10).text
        assert 'class="alert error disk-alarm"' in page and "Ổ đĩa máy chủ đã đầy" in page
