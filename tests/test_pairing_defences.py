"""Pairing as an attacker or a careless operator would try it: a flood of
anonymous requests, a device code polled twice, labels that hold terminal
escapes, a request in the name of an active tablet, and rows left behind.
All against a real server on loopback and the real command line."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from kiosk.link.credentials import load_credentials
from kiosk.link.pairing import PairingClient
from server.pairing_gate import PER_ADDRESS_BURST, PairingGate
from server.store import tables
from sync.protocol import API_PREFIX
from tests.sync_support import Commune, ManualClock, Tablet

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# A label as an anonymous asker might write it: clear the screen, set the
# terminal's title, ring the bell, then reverse the rest of the line.
HOSTILE_LABEL = "Quầy 1\x1b[2J\x1b]0;owned\x07\u202eevil"


def cli(commune: Commune, *args: str) -> subprocess.CompletedProcess:
    """``python -m server ARGS --db <the commune's database>``, as the technician runs it."""
    return subprocess.run([sys.executable, "-m", "server", *args, "--db", str(commune.db_path)],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=60)


def ask_to_pair(commune: Commune, source: str, device_id: str, label: str | None = None) -> tuple[int, dict, dict]:
    """One anonymous ``POST /pair/device-code`` sent from the loopback address ``source``."""
    where = urlsplit(commune.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10, source_address=(source, 0))
    try:
        body = json.dumps({"device_id": device_id, "label": label})
        connection.request("POST", f"{API_PREFIX}/pair/device-code", body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(answer.read())
    finally:
        connection.close()


def pairing_rows(commune: Commune) -> int:
    with commune.engine.begin() as conn:
        return conn.execute(select(func.count()).select_from(tables.pairings)).scalar_one()


def test_a_flood_from_one_address_is_refused_while_another_still_pairs(tmp_path):
    with Commune(tmp_path) as commune:
        answers = [ask_to_pair(commune, "127.0.0.1", f"flood-{i}") for i in range(40)]
        statuses = [a[0] for a in answers]
        # The burst goes through, then 429s (one token comes back every 6 s).
        assert statuses[:PER_ADDRESS_BURST] == [200] * PER_ADDRESS_BURST
        assert statuses.count(200) <= PER_ADDRESS_BURST + 1 and statuses[-1] == 429
        refused = [a for a in answers if a[0] == 429]
        assert all(a[2]["error"] == "rate_limited" and int(a[1]["retry-after"]) >= 1 for a in refused)
        # Only what was let through was stored.
        assert pairing_rows(commune) == statuses.count(200)

        status, _, body = ask_to_pair(commune, "127.0.0.2", "honest-tablet", "Quầy 2")
        assert status == 200 and body["user_code"]


def test_the_whole_server_has_a_limit_too(tmp_path):
    with Commune(tmp_path) as commune:
        # Small limits so the test need not send hundreds: 4 per address, 9 in all, none back soon.
        commune.app.state.pairing_gate = PairingGate(per_address=(4, 600.0), server=(9, 600.0))
        statuses = {f"127.0.0.{n}": [ask_to_pair(commune, f"127.0.0.{n}", f"d-{n}-{i}")[0] for i in range(5)]
                    for n in range(1, 5)}
        assert statuses["127.0.0.1"] == [200, 200, 200, 200, 429]
        assert statuses["127.0.0.2"] == [200, 200, 200, 200, 429]
        assert statuses["127.0.0.3"] == [200, 429, 429, 429, 429]  # the server's ninth, then nothing
        assert statuses["127.0.0.4"] == [429] * 5
        assert pairing_rows(commune) == 9


def test_a_device_code_gives_its_secret_once(tmp_path):
    with Commune(tmp_path) as commune:
        client = PairingClient(commune.url)
        authorization = client.start("tablet-once", "Quầy 1", "0.1.0")
        commune.registry.decide(authorization.user_code, approve=True)
        error, first = client.poll_once(authorization)
        assert error is None and first["device_id"] == "tablet-once" and first["device_secret"]
        error, second = client.poll_once(authorization)
        assert error == "invalid_grant" and "already used" in second["detail"]
        assert first["device_secret"] not in json.dumps(second)
        # The secret handed over is the one the server checks.
        assert commune.registry.credentials("tablet-once") == (first["device_secret"], "active")


def test_the_command_line_prints_labels_escaped(tmp_path):
    with Commune(tmp_path) as commune:
        status, _, body = ask_to_pair(commune, "127.0.0.1", "tablet-hostile", HOSTILE_LABEL)
        assert status == 200
        for args in (("pairings",), ("approve", body["user_code"]), ("devices",)):
            done = cli(commune, *args)
            assert done.returncode == 0, done.stderr
            raw = [ch for ch in done.stdout if ch in "\x1b\x07\u202e"]
            assert raw == [], (args, done.stdout)
            assert "Quầy 1\\x1b[2J\\x1b]0;owned\\x07\\u202eevil" in done.stdout, (args, done.stdout)


def test_a_request_for_an_active_device_needs_replace_active(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        secret = load_credentials(tablet.store.device_secret_path).secret
        # Anyone may ask in the tablet's name (its id is no secret).
        _, _, squatter = ask_to_pair(commune, "127.0.0.3", tablet.store.device_id, "Quầy 1")
        _, _, stranger = ask_to_pair(commune, "127.0.0.3", "a-new-tablet", "Quầy 2")

        listed = cli(commune, "pairings").stdout.splitlines()
        at = next(i for i, line in enumerate(listed) if line.startswith(squatter["user_code"]))
        assert "ALREADY ACTIVE" in listed[at + 1]
        other = next(i for i, line in enumerate(listed) if line.startswith(stranger["user_code"]))
        assert other + 1 == len(listed) or "ALREADY ACTIVE" not in listed[other + 1]

        refused = cli(commune, "approve", squatter["user_code"])
        assert refused.returncode == 1
        assert refused.stderr.startswith("device_active:") and "--replace-active" in refused.stderr
        assert commune.registry.credentials(tablet.store.device_id) == (secret, "active")

        replaced = cli(commune, "approve", squatter["user_code"], "--replace-active")
        assert replaced.returncode == 0, replaced.stderr
        assert commune.registry.credentials(tablet.store.device_id)[0] != secret
        # A request for a new device needs no confirmation.
        assert cli(commune, "approve", stranger["user_code"]).returncode == 0
        tablet.close()


def test_expired_and_finished_requests_are_deleted(tmp_path):
    clock = ManualClock()
    with Commune(tmp_path, pair_lifetime_s=60, clock=clock) as commune:
        client = PairingClient(commune.url)
        delivered = client.start("tablet-delivered")
        commune.registry.decide(delivered.user_code, approve=True)
        assert client.poll_once(delivered)[0] is None
        denied = client.start("tablet-denied")
        commune.registry.decide(denied.user_code, approve=False)
        client.start("tablet-waiting")
        assert pairing_rows(commune) == 3

        clock.advance(30)
        client.start("tablet-half-way")  # nothing has expired yet: nothing goes
        assert pairing_rows(commune) == 4
        clock.advance(31)
        fresh = client.start("tablet-fresh")  # the first three are past their minute
        assert pairing_rows(commune) == 2
        with commune.engine.begin() as conn:
            left = {r[0] for r in conn.execute(select(tables.pairings.c.device_id))}
        assert left == {"tablet-half-way", "tablet-fresh"}
        # The expired code now gets a clear refusal, not the secret.
        assert client.poll_once(delivered)[0] == "invalid_grant"
        assert client.poll_once(fresh)[0] == "authorization_pending"
        assert commune.registry.credentials("tablet-delivered")[1] == "active"


def test_a_tablet_polling_too_fast_waits_as_long_as_the_server_says(tmp_path):
    """A poll refused with 429 is followed by a wait of the Retry-After, not
    by another refused poll; the tablet then pairs."""
    with Commune(tmp_path) as commune:
        now = [0.0]
        # One poll per 30 s for each address, on a clock the tablet's sleeps move.
        commune.app.state.pairing_gate = PairingGate(polls=(1, 30.0), clock=lambda: now[0])
        client = PairingClient(commune.url)
        authorization = client.start("tablet-patient", "Quầy 1", "0.1.0")
        slept: list[float] = []
        waits: list[str] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds

        def on_wait(what: str) -> None:
            waits.append(what)
            if what == "authorization_pending":
                commune.registry.decide(authorization.user_code, approve=True)

        credentials = client.wait(authorization, sleep=sleep, on_wait=on_wait)
        assert credentials.device_id == "tablet-patient" and credentials.secret
        # Pending, then one refusal, then approved: the wait after the refusal
        # covered the Retry-After (30 s less the interval already waited).
        refused = [w for w in waits if "429" in w]
        assert waits[0] == "authorization_pending" and len(refused) == 1, waits
        assert slept[2] >= 30.0 - slept[1], slept
