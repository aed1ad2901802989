"""``GET /api/v1/surveys``: a paired tablet gets the survey campaigns it
asks, signed with its own secret; any other caller is refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import requests

from server.registry import DeviceRegistry
from server.store import devices as stored_devices
from server.store import surveys
from sync.protocol import API_PREFIX, DEVICE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, get_signing_text, sign
from sync.survey import Campaign

PATH = f"{API_PREFIX}/surveys"
SECRETS = {"tab-1": "a" * 64, "tab-2": "b" * 64}


def _get(commune, device_id: str, secret: str, *, etag: str | None = None) -> requests.Response:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    headers = {
        DEVICE_HEADER: device_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, get_signing_text(PATH, stamp)),
    }
    if etag:
        headers["If-None-Match"] = etag
    return requests.get(commune.url + PATH, headers=headers, timeout=10)


def _setup(commune) -> dict[str, str]:
    today = datetime.now(UTC).date()
    plain = {
        "title": "Khảo sát",
        "sections": [
            {
                "title": "Chung",
                "questions": [{"key": "q1", "kind": "scale", "text": "Ông/Bà hài lòng", "required": True}],
            }
        ],
    }
    with commune.engine.begin() as conn:
        for device_id, secret in SECRETS.items():
            stored_devices.activate_device(
                conn,
                device_id,
                secret=secret,
                status="active",
                label=device_id,
                paired_at="2026-01-01T00:00:00.000+00:00",
            )
        qid = surveys.save_questionnaire(conn, plain, by_account=None).id
        common = dict(
            title="Đợt khảo sát",
            questionnaire_id=qid,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=30),
            kiosk=True,
            public_link=False,
            paper=False,
            target=50,
            by_account=None,
        )
        ids = {
            "mine": surveys.create_campaign(conn, **common, device_ids=["tab-1"]),
            "all": surveys.create_campaign(conn, **common, device_ids=None),
            "other": surveys.create_campaign(conn, **common, device_ids=["tab-2"]),
            "ended": surveys.create_campaign(
                conn, **{**common, "starts_on": date(2025, 1, 1), "ends_on": date(2025, 1, 31)}, device_ids=None
            ),
            "phone_only": surveys.create_campaign(conn, **{**common, "kiosk": False}, device_ids=None),
        }
    return ids


def test_a_tablet_gets_its_campaigns_signed_with_its_secret(commune):
    ids = _setup(commune)
    answer = _get(commune, "tab-1", SECRETS["tab-1"])
    assert answer.status_code == 200, answer.text
    assert answer.headers[SIGNATURE_HEADER] == sign(SECRETS["tab-1"], answer.content)
    campaigns = [Campaign.from_dict(c) for c in answer.json()["campaigns"]]
    assert {c.id for c in campaigns} == {ids["mine"], ids["all"]}
    assert campaigns[0].questionnaire.questions[0].key == "q1" and campaigns[0].target == 50
    # The other tablet gets its own, never tab-1's.
    other = _get(commune, "tab-2", SECRETS["tab-2"])
    assert {c["id"] for c in other.json()["campaigns"]} == {ids["other"], ids["all"]}
    # Unchanged: 304 on the ETag.
    assert _get(commune, "tab-1", SECRETS["tab-1"], etag=answer.headers["ETag"]).status_code == 304


def test_unsigned_foreign_and_revoked_callers_are_refused(commune):
    _setup(commune)
    assert requests.get(commune.url + PATH, timeout=10).status_code == 401
    # tab-2 presenting itself as tab-1 (its own secret, the other's id).
    forged = _get(commune, "tab-1", SECRETS["tab-2"])
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"
    assert "campaigns" not in forged.text
    unknown = _get(commune, "tab-9", SECRETS["tab-1"])
    assert unknown.status_code == 401 and unknown.json()["error"] == "unknown_device"
    DeviceRegistry(commune.engine).revoke("tab-1", reason="lost")
    revoked = _get(commune, "tab-1", SECRETS["tab-1"])
    assert revoked.status_code in (401, 403) and "campaigns" not in revoked.text
    assert json.loads(_get(commune, "tab-2", SECRETS["tab-2"]).content)["campaigns"]
