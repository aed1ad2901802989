"""The commune server over HTTPS (its own certificate) and behind a reverse
proxy (trusting forwarded headers from the proxy's address only): the real
``python -m server`` on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sync.protocol import API_PREFIX

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(tmp_path: Path, *options: str, scheme: str = "http", verify: str | bool = False) -> Iterator[str]:
    """``python -m server`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    log = open(tmp_path / f"server-{port}.log", "w+", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--db", str(tmp_path / "commune.db"), "--host", "127.0.0.1",
         "--port", str(port), *options], cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT)
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the server exited with {process.returncode}:\n{log.read()}")
            try:
                requests.get(f"{url}{API_PREFIX}/health", timeout=2, verify=verify)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not answer within 30 s")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (apt-get install openssl): cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=hailong.test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.slow  # a real server process
def test_the_server_serves_https_with_its_certificate(tmp_path, certificate):
    cert, key = certificate
    with running_server(tmp_path, "--certfile", str(cert), "--keyfile", str(key),
                        scheme="https", verify=str(cert)) as url:
        answer = requests.get(f"{url}{API_PREFIX}/health", timeout=10, verify=str(cert))
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        # A client that does not know the certificate refuses it...
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}{API_PREFIX}/health", timeout=10)
        # ...and plain HTTP on the same port gets no answer.
        with pytest.raises(requests.ConnectionError):
            requests.get(url.replace("https://", "http://") + f"{API_PREFIX}/health", timeout=10)


@pytest.mark.slow  # a real server process
def test_a_wrong_key_stops_the_start_with_a_plain_message(tmp_path, certificate):
    cert, _key = certificate
    other_key = tmp_path / "other-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other_key)], check=True,
                   capture_output=True, timeout=60)
    result = subprocess.run(
        [sys.executable, "-m", "server", "--db", str(tmp_path / "commune.db"), "--certfile", str(cert),
         "--keyfile", str(other_key)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot use the certificate" in result.stderr and "Traceback" not in result.stderr


def pairing_address(url: str, **headers: str) -> str:
    """The address the server tells a pairing tablet to show, which it builds from the request."""
    answer = requests.post(f"{url}{API_PREFIX}/pair/device-code", json={"device_id": str(uuid.uuid4())},
                           headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["verification_uri"]


@pytest.mark.slow  # real server processes
def test_forwarded_headers_are_trusted_from_the_proxy_address_only(tmp_path):
    forwarded = {"X-Forwarded-Proto": "https", "Host": "hailong.example"}
    # The proxy is on this machine (127.0.0.1, the default address).
    with running_server(tmp_path, "--behind-proxy") as url:
        assert pairing_address(url, **forwarded) == "https://hailong.example/pair"
        assert pairing_address(url).startswith("http://127.0.0.1:")
    # The proxy is elsewhere: a request from here claiming HTTPS is not believed.
    with running_server(tmp_path, "--behind-proxy", "192.0.2.10") as url:
        assert pairing_address(url, **forwarded) == "http://hailong.example/pair"
    # No proxy: the headers are never trusted.
    with running_server(tmp_path) as url:
        assert pairing_address(url, **forwarded) == "http://hailong.example/pair"
