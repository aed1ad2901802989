"""Pairing in the pattern of RFC 8628, over loopback, with the real command lines."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.link.credentials import load_credentials
from kiosk.link.pairing import PairingClient, PairingFailed, qr_text
from server.registry import PairingError
from tests.sync_support import Commune, ManualClock, Tablet

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=ENV,
                          timeout=60, **kwargs)


@pytest.mark.slow  # real subprocesses polling in real time
def test_pair_command_prints_code_and_url_and_stores_a_private_secret(tmp_path):
    with Commune(tmp_path, pair_interval_s=1) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        process = subprocess.Popen([sys.executable, "-m", "kiosk.link", "pair", "--config", str(tablet.config_path)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
        try:
            lines = []
            while not any("approve at" in line for line in lines):
                lines.append(process.stdout.readline())
            code = lines[0].split(":")[-1].strip()
            url = lines[1].split(": ", 1)[-1].strip()
            assert len(code) == 9 and code[4] == "-"
            assert url == f"{commune.url}/pair?code={code}"
            assert len(commune.registry.list_pairings()) == 1
            approved = run("-m", "server", "approve", code.lower(), "--db", str(commune.db_path))
            assert approved.returncode == 0, approved.stderr
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == 0, err
        assert "█" in out or "▀" in out or "▄" in out  # the QR code, drawn in text
        secret_file = tablet.store.device_secret_path
        assert secret_file.parent == tablet.db_path.parent
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        credentials = load_credentials(secret_file)
        assert credentials.device_id == tablet.store.device_id
        # The approval address leads to the dashboard's devices page, behind the login.
        import requests

        opened = requests.get(url, timeout=5)
        assert [r.headers["location"] for r in opened.history] == ["/devices", "/login?next=/devices"]
        assert code not in opened.text
        tablet.close()


def test_polling_honours_pending_slow_down_denied_and_expired(tmp_path):
    clock = ManualClock()  # moves only when told: nothing here waits
    with Commune(tmp_path, pair_interval_s=1, pair_lifetime_s=2, clock=clock) as commune:
        client = PairingClient(commune.url)
        authorization = client.start("tablet-a", "Quầy 1", "0.1.0")
        assert authorization.interval == 1 and authorization.expires_in == 2
        assert client.poll_once(authorization)[0] == "authorization_pending"
        assert client.poll_once(authorization)[0] == "slow_down"  # polled at once: too fast
        # Denied.
        denied = client.start("tablet-b")
        commune.registry.decide(denied.user_code, approve=False)
        with pytest.raises(PairingFailed) as failure:
            client.wait(denied, sleep=clock.advance)
        assert failure.value.code == "access_denied"
        # Expired before anyone approved it.
        late = client.start("tablet-c")
        clock.advance(2.1)
        assert client.poll_once(late)[0] == "expired_token"
        with pytest.raises(PairingError) as refused:
            commune.registry.decide(late.user_code, approve=True)
        assert refused.value.code == "expired_token"


@pytest.mark.slow  # a real subprocess (the technician's command)
def test_approve_command_refuses_an_expired_code(tmp_path):
    # The server's clock starts an hour back: a code it lets expire has long
    # expired for the command line, which runs on the real clock.
    clock = ManualClock(offset_s=-3600)
    with Commune(tmp_path, pair_lifetime_s=2, clock=clock) as commune:
        late = PairingClient(commune.url).start("tablet-c")
        clock.advance(2.1)
        denied_cli = run("-m", "server", "approve", late.user_code, "--db", str(commune.db_path))
        assert denied_cli.returncode == 1 and "expired" in denied_cli.stderr


def test_slow_down_makes_the_client_wait_longer(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, pair_interval_s=1, clock=clock) as commune:
        client = PairingClient(commune.url)
        authorization = client.start("tablet-d")
        waits: list[float] = []
        answers: list[str] = []

        def sleep(seconds: float) -> None:
            # The first two polls go out at once (the second is too fast); from
            # the third on, the client's interval passes on the server's clock.
            waits.append(seconds)
            if len(waits) == 3:
                commune.registry.decide(authorization.user_code, approve=True)
                clock.advance(seconds * 0.85)

        credentials = client.wait(authorization, sleep=sleep, on_wait=answers.append)
        assert credentials.device_id == "tablet-d"
        assert answers[:2] == ["authorization_pending", "slow_down"]
        assert waits[2] == waits[1] + 5  # RFC 8628 §3.5


def test_qr_text_draws_a_code():
    drawing = qr_text("http://127.0.0.1:8080/pair?code=BCDF-GHJK")
    assert len(drawing.splitlines()) > 10


def test_repairing_a_revoked_device_lets_it_upload_again(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        tablet.rate(2)
        tablet.uploader().run_once()
        commune.registry.revoke(tablet.store.device_id, "lost")
        tablet.rate(2)
        assert tablet.uploader().run_once().state == "revoked"
        tablet.pair(commune)
        status = tablet.uploader().run_once()
        assert status.pending == 0
        health = commune.registry.health()[0]
        assert health["records_count"] == 4 and health["chain_status"] == "intact"
        tablet.close()


