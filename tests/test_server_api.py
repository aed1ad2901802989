"""Bad input gets a 4xx with a reason, never a 500 — checked by hand for the
usual mistakes, then by property-based fuzzing against the OpenAPI description."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.link.credentials import load_credentials
from sync.protocol import API_PREFIX, DEVICE_HEADER, MAX_BATCH_RECORDS, MAX_BODY_BYTES, SIGNATURE_HEADER, sign
from tests.sync_support import Commune, Tablet

# Longer fuzz runs: HAILONG_FUZZ_EXAMPLES=2000 python -m pytest -o addopts= tests/test_server_api.py -k fuzz
# (the OpenAPI fuzz itself is tests/fuzz_openapi.py, which reads the same variable).
FUZZ_EXAMPLES = int(os.environ.get("HAILONG_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server and one paired tablet for the whole module."""
    tmp = tmp_path_factory.mktemp("api")
    with Commune(tmp) as commune:
        tablet = Tablet(tmp / "tablet", commune.url)
        tablet.pair(commune)
        credentials = load_credentials(tablet.store.device_secret_path)
        yield commune, tablet, credentials
        tablet.close()


def signed_post(live, body: bytes, **headers) -> requests.Response:
    commune, _tablet, credentials = live
    all_headers = {"Content-Type": "application/json", DEVICE_HEADER: credentials.device_id,
                   SIGNATURE_HEADER: sign(credentials.secret, body), **headers}
    return requests.post(f"{commune.url}{API_PREFIX}/batches", data=body, headers=all_headers, timeout=30)


def envelope(live, **changes) -> dict:
    _commune, tablet, credentials = live
    body = {
        "protocol": 1, "device_id": credentials.device_id, "idempotency_key": "k" * 12,
        "sent_at": "2026-03-02T08:00:00.000+07:00", "sent_monotonic_ns": 1, "boot_id": "b",
        "app_version": "0.1.0", "pending": 0, "records": [],
    }
    body.update(changes)
    return body


def assert_error(response: requests.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    data = response.json()
    assert set(data) == {"error", "detail"} and data["detail"]
    if code:
        assert data["error"] == code


def test_malformed_json_is_422(live):
    assert_error(signed_post(live, b'{"protocol": 1, "records": ['), 422, "malformed")
    assert_error(signed_post(live, b'\xff\xfe not json'), 422, "malformed")
    assert_error(signed_post(live, b'[]'), 422, "malformed")


@pytest.mark.parametrize("changes", [
    {"sent_monotonic_ns": "12"}, {"pending": -1}, {"records": {"a": 1}}, {"protocol": 2},
    {"sent_at": "yesterday"}, {"sent_at": "2026-02-30T08:00:00.000+07:00"}, {"idempotency_key": "short"},
    {"surprise": True}, {"records": [1, "two"]},
])
def test_wrong_types_and_unknown_fields_are_4xx_with_a_reason(live, changes):
    response = signed_post(live, json.dumps(envelope(live, **changes)).encode())
    if changes == {"records": [1, "two"]}:  # records are judged one by one
        assert response.status_code == 200
        assert [r["status"] for r in response.json()["results"]] == ["rejected", "rejected"]
    else:
        assert_error(response, 422, "malformed")


def test_unknown_field_in_a_record_rejects_that_record_only(live):
    _commune, tablet, _credentials = live
    records = [r.to_dict() for r in tablet.rate(2)]
    records[1]["extra"] = "x"
    response = signed_post(live, json.dumps(envelope(live, records=records, idempotency_key="unknown-field")).encode())
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected"]
    assert "extra" in results[1]["detail"]


def test_oversized_batches_are_413(live):
    too_many = envelope(live, records=[{}] * (MAX_BATCH_RECORDS + 1))
    assert_error(signed_post(live, json.dumps(too_many).encode()), 413, "too_large")
    huge = b"x" * (MAX_BODY_BYTES + 1)
    assert_error(signed_post(live, huge), 413, "too_large")


def test_device_mismatch_and_reused_key(live):
    response = signed_post(live, json.dumps(envelope(live, device_id="someone-else")).encode())
    assert_error(response, 422, "wrong_device")


def test_pairing_endpoints_refuse_bad_input(live):
    commune = live[0]
    url = f"{commune.url}{API_PREFIX}/pair"
    assert_error(requests.post(f"{url}/device-code", data=b"{", timeout=5,
                               headers={"Content-Type": "application/json"}), 422, "malformed")
    assert_error(requests.post(f"{url}/device-code", json={"device_id": "a", "x": 1}, timeout=5), 422)
    assert_error(requests.post(f"{url}/device-code", json={"device_id": 5}, timeout=5), 422)
    assert_error(requests.post(f"{url}/token", json={"grant_type": "password", "device_code": "x"}, timeout=5),
                 400, "unsupported_grant_type")
    assert_error(requests.post(f"{url}/token", json={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "nope"}, timeout=5),
        400, "invalid_grant")


def test_unknown_paths_and_methods_are_json_errors(live):
    commune = live[0]
    assert_error(requests.get(f"{commune.url}/api/v1/nothing", timeout=5), 404, "not_found")
    assert_error(requests.delete(f"{commune.url}{API_PREFIX}/batches", timeout=5), 405, "method_not_allowed")
    assert_error(requests.get(f"{commune.url}{API_PREFIX}/roster", timeout=5), 401, "unknown_device")


def test_openapi_description_is_served(live):
    spec = requests.get(f"{live[0].url}/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/batches", "/api/v1/pair/device-code", "/api/v1/pair/token", "/api/v1/roster",
                 "/api/v1/devices"):
        assert path in spec["paths"]


@pytest.mark.slow  # the fuzz
@settings(max_examples=FUZZ_EXAMPLES * 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(st.dictionaries(
    st.sampled_from(["kind", "uuid", "seq", "device_id", "prev_hash", "hash", "score", "scale", "device_time",
                     "monotonic_ns", "boot_id", "reasons", "v", "simulated", "x"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=8), max_size=4))
def test_fuzz_signed_batches_never_cause_a_500(live, records):
    """Signed batches with arbitrary records reach the ingest rules: no 500."""
    response = signed_post(live, json.dumps(envelope(live, records=records,
                                                     idempotency_key=os.urandom(8).hex())).encode())
    assert response.status_code < 500, response.text


@pytest.mark.slow  # the OpenAPI fuzz, in a real subprocess
def test_fuzz_openapi_never_a_500():
    """Schemathesis generates requests from /openapi.json against a live server;
    none may be a 500. It runs in a fresh interpreter: under CPython 3.11.7 the
    ast module's shared recursion counter, which hypothesis' source inspection
    goes through, can be left off by earlier tests in the same process."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         str(Path(__file__).with_name("fuzz_openapi.py"))],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
