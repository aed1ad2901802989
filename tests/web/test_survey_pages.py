"""The Fatherland Front's surveys on the dashboard and on a citizen's phone,
in headless Chromium against a real server: the observer builds a
questionnaire from the SIPAS template, edits it, makes a campaign for one
tablet with a public link; a phone (390 px, JavaScript off) answers through
the link; paper forms are typed in; every survey route refuses anonymous
callers and officers, and leaders only read.

Screenshots go to the folder named by ``HAILONG_SHOTS`` (the test's own
temporary folder otherwise)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from server.accounts import Role
from server.roster import RosterStore
from server.store import devices as stored_devices
from server.store import surveys as stored
from tests.web.support import PASSWORDS, api_login, form_token

pytestmark = pytest.mark.xdist_group("web")

PHONE_WIDTH = {"width": 390, "height": 844}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HAILONG_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def surveyed(commune, roles, config_path):
    """The commune with its roster (portraits included) and two paired tablets."""
    RosterStore(commune.engine).import_file(config_path)
    with commune.engine.begin() as conn:
        for device_id, label in (("tab-quay-1", "Quầy 1"), ("tab-quay-2", "Quầy 2")):
            stored_devices.activate_device(
                conn,
                device_id,
                secret="s" * 64,
                status="active",
                label=label,
                paired_at="2026-01-01T00:00:00.000+00:00",
            )
    return commune


def _session(commune, role: Role) -> requests.Session:
    return api_login(commune.url, role.value, PASSWORDS[role])


def _template_campaign(commune, **changes) -> tuple[str, str]:
    """A questionnaire from the template and a running campaign of it, made through the store."""
    from server.i18n import translator
    from server.surveys import template_questionnaire

    today = _today(commune)
    with commune.engine.begin() as conn:
        qid = stored.save_questionnaire(conn, template_questionnaire(translator("vi")), by_account=None).id
        values = dict(
            title="Khảo sát quý II",
            questionnaire_id=qid,
            starts_on=today,
            ends_on=today + timedelta(days=14),
            kiosk=True,
            device_ids=None,
            public_link=True,
            paper=True,
            target=200,
            by_account=None,
        )
        values.update(changes)
        return qid, stored.create_campaign(conn, **values)


def _today(commune):
    from server.surveys import SurveyDesk

    return SurveyDesk(commune.engine).today()


# -- who may use what -----------------------------------------------------------------------------


def test_every_survey_page_refuses_officers_and_leaders_only_read(surveyed):
    qid, cid = _template_campaign(surveyed)
    reads = [
        "/surveys",
        f"/surveys/questionnaires/{qid}",
        f"/surveys/campaigns/{cid}",
        f"/surveys/campaigns/{cid}/qr.svg",
        f"/surveys/campaigns/{cid}/poster",
    ]
    manages = [
        "/surveys/questionnaires/new",
        "/surveys/questionnaires/new?template=1",
        "/surveys/campaigns/new",
        f"/surveys/campaigns/{cid}/paper",
    ]
    posts = [
        "/surveys/questionnaires",
        "/surveys/campaigns",
        f"/surveys/campaigns/{cid}",
        f"/surveys/campaigns/{cid}/paper",
    ]
    officer = _session(surveyed, Role.OFFICER)
    for path in reads + manages:
        assert officer.get(surveyed.url + path, allow_redirects=False).status_code == 403, path
    token = form_token(officer.get(surveyed.url + "/me").text)
    for path in posts:
        assert (
            officer.post(
                surveyed.url + path, data={"csrf": token, "title": "x", "action": "save"}, allow_redirects=False
            ).status_code
            == 403
        ), path
    leader = _session(surveyed, Role.LEADER)
    for path in reads:
        assert leader.get(surveyed.url + path).status_code == 200, path
    for path in manages:
        assert leader.get(surveyed.url + path, allow_redirects=False).status_code == 403, path
    token = form_token(leader.get(surveyed.url + "/surveys").text)
    for path in posts:
        assert (
            leader.post(surveyed.url + path, data={"csrf": token, "title": "x"}, allow_redirects=False).status_code
            == 403
        ), path
    for role in (Role.OBSERVER, Role.ADMIN):
        http = _session(surveyed, role)
        for path in reads + manages:
            assert http.get(surveyed.url + path).status_code == 200, (role, path)
    # Nothing was changed by the refused posts.
    with surveyed.engine.begin() as conn:
        assert len(stored.questionnaires(conn)) == 1 and len(stored.campaigns(conn)) == 1
        assert stored.responses(conn, cid) == []
    anonymous = requests.get(surveyed.url + "/surveys", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (303, 307) and anonymous.headers["location"].startswith("/login")
