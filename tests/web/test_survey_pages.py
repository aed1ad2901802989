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
from sqlalchemy import select

from server.accounts import Role
from server.roster import RosterStore
from server.settings import load_settings
from server.store import devices as stored_devices
from server.store import surveys as stored
from server.store import tables
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token, logged_in_admin

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
    # Vietnamese by default, English one switch away (the template too).
    assert "Khảo sát của Mặt trận Tổ quốc" in leader.get(surveyed.url + "/surveys").text
    leader.cookies.set("lang", "en")
    assert "Fatherland Front surveys" in leader.get(surveyed.url + "/surveys").text
    observer = _session(surveyed, Role.OBSERVER)
    observer.cookies.set("lang", "en")
    assert (
        'value="I. Access to the service"' in observer.get(surveyed.url + "/surveys/questionnaires/new?template=1").text
    )
    anonymous = requests.get(surveyed.url + "/surveys", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (303, 307) and anonymous.headers["location"].startswith("/login")


# -- designing and running a survey in the browser ---------------------------------------------------


def test_the_observer_builds_a_questionnaire_from_the_template_and_runs_a_campaign(surveyed, page, shots):
    login_as(page, surveyed.url, Role.OBSERVER)
    page.goto(f"{surveyed.url}/surveys")
    page.screenshot(path=str(shots / "surveys-empty.png"), full_page=True)
    page.click("#from-template")
    page.wait_for_load_state()
    # The five SIPAS aspects, in natural Vietnamese.
    legends = page.locator("fieldset.section input[name$='.title']")
    assert legends.count() == 5
    assert legends.nth(0).input_value() == "I. Tiếp cận dịch vụ"
    assert legends.nth(4).input_value() == "V. Tiếp nhận và xử lý góp ý, phản ánh"
    page.screenshot(path=str(shots / "survey-designer-template.png"), full_page=True)
    # Edit: the title, a question's text, add a question with options, move it up, remove another.
    page.fill("#title", "Khảo sát ban đầu trước khi áp dụng mô hình")
    page.fill("textarea[name='s0.q0.text']", "Nơi tiếp nhận hồ sơ dễ tìm, biển chỉ dẫn rõ ràng.")
    page.click("button[value='q_add:1']")
    page.wait_for_load_state()
    assert page.input_value("#title") == "Khảo sát ban đầu trước khi áp dụng mô hình"  # nothing typed is lost
    new_q = page.locator("#s1 li.question").last
    new_q.locator("textarea[name$='.text']").fill("Ông/Bà đã nộp hồ sơ theo cách nào?")
    new_q.locator("select[name$='.kind']").select_option("single")
    new_q.locator("textarea[name$='.options']").fill("Trực tiếp tại quầy\nQua dịch vụ công trực tuyến\nQua bưu điện")
    new_q.locator("input[name$='.required']").check()
    new_q.locator("button[value^='q_up:1:']").click()
    page.wait_for_load_state()
    moved = page.locator("#s1 li.question").nth(3)
    assert moved.locator("textarea[name$='.text']").input_value() == "Ông/Bà đã nộp hồ sơ theo cách nào?"
    page.click("button[value='q_remove:0:2']")  # «Trang thiết bị…»
    page.wait_for_load_state()
    page.click("button[value='s_add']")
    page.wait_for_load_state()
    assert page.locator("fieldset.section").count() == 6
    page.click("button[value='s_remove:5']")
    page.wait_for_load_state()
    page.click("#save")
    page.wait_for_load_state()
    assert page.locator("#notice").is_visible()
    with surveyed.engine.begin() as conn:
        (saved,) = stored.questionnaires(conn)
    assert saved.version == 1 and saved.title == "Khảo sát ban đầu trước khi áp dụng mô hình"
    assert len(saved.sections) == 5 and len(saved.questions) == 20
    assert saved.question("tc1").text == "Nơi tiếp nhận hồ sơ dễ tìm, biển chỉ dẫn rõ ràng."
    assert saved.question("tc3") is None
    added = saved.sections[1].questions[3]
    assert (
        added.kind == "single"
        and added.required
        and [o.text for o in added.options] == ["Trực tiếp tại quầy", "Qua dịch vụ công trực tuyến", "Qua bưu điện"]
    )
    assert saved.question("cc0").kind == "officer"
    # A refused save says where, and keeps the draft.
    page.fill("textarea[name='s0.q0.text']", "")
    page.click("#save")
    page.wait_for_load_state()
    assert "Phần 1, câu 1" in page.inner_text("#error")
    page.fill("textarea[name='s0.q0.text']", "Nơi tiếp nhận hồ sơ dễ tìm.")
    page.click("#save")
    page.wait_for_load_state()

    # A campaign for one tablet, with the public link and paper.
    page.goto(f"{surveyed.url}/surveys/campaigns/new")
    page.fill("#title", "Khảo sát ban đầu")
    page.check("#tablets-some")
    page.check("input[name='device_ids'][value='tab-quay-1']")
    page.fill("#target", "150")
    page.screenshot(path=str(shots / "survey-campaign-form.png"), full_page=True)
    page.click("#save")
    page.wait_for_load_state()
    assert page.locator("#notice").is_visible()
    assert page.locator("img.qr").evaluate("img => img.naturalWidth") > 0
    link = page.inner_text("#public-link")
    page.screenshot(path=str(shots / "survey-campaign.png"), full_page=True)
    today = _today(surveyed)
    with surveyed.engine.begin() as conn:
        (campaign,) = stored.campaigns(conn)
        assert campaign.device_ids == ("tab-quay-1",) and campaign.public_link and campaign.paper
        assert campaign.contract.target == 150 and campaign.questionnaire.id == saved.id
        assert link.endswith(f"/s/{campaign.public_token}")
        assert [c.id for c in stored.campaigns_for_device(conn, "tab-quay-1", today)] == [campaign.id]
        assert stored.campaigns_for_device(conn, "tab-quay-2", today) == []
        actions = [row.action for row in conn.execute(select(tables.audit_log.c.action))]
    assert actions.count("survey.questionnaire.create") == 1 and "survey.questionnaire.edit" in actions
    assert "survey.campaign.create" in actions
    # Changed: every tablet now, a later last day; a wrong period is refused with what was typed kept.
    page.click("#edit summary")
    page.check("#edit #tablets-all")
    page.fill("#edit #ends_on", (today - timedelta(days=1)).isoformat())
    page.click("#edit button[type=submit]")
    page.wait_for_load_state()
    assert "Ngày kết thúc phải từ ngày bắt đầu trở đi" in page.inner_text("#error")
    assert page.is_checked("#edit #tablets-all")
    page.fill("#edit #ends_on", (today + timedelta(days=20)).isoformat())
    page.click("#edit button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#notice").is_visible()
    with surveyed.engine.begin() as conn:
        changed = stored.campaign(conn, campaign.id)
        edits = conn.execute(
            select(tables.audit_log.c.detail).where(tables.audit_log.c.action == "survey.campaign.edit")
        ).all()
    assert changed.device_ids is None and changed.contract.ends_on == today + timedelta(days=20)
    assert changed.public_token == campaign.public_token and len(edits) == 1 and "tablets=all" in edits[0][0]
    page.goto(f"{surveyed.url}/surveys/campaigns/{campaign.id}/poster")
    assert page.locator(".qr svg").count() == 1
    page.pdf(path=str(shots / "survey-poster.pdf"), format="A4")
    page.screenshot(path=str(shots / "survey-poster.png"), full_page=True)
    page.goto(f"{surveyed.url}/surveys")
    page.screenshot(path=str(shots / "surveys.png"), full_page=True)


def test_a_campaigns_revoked_tablet_stays_in_its_form_marked_until_unticked(surveyed, page, shots):
    _, cid = _template_campaign(surveyed, device_ids=["tab-quay-1", "tab-quay-2"])
    with surveyed.engine.begin() as conn:
        assert stored_devices.revoke_device(conn, "tab-quay-2", at="2026-01-02T00:00:00.000+00:00",
                                            reason="mất máy")
    login_as(page, surveyed.url, Role.OBSERVER)
    page.goto(f"{surveyed.url}/surveys/campaigns/{cid}")
    page.click("#edit summary")
    revoked = page.locator("#edit input[name='device_ids'][value='tab-quay-2']")
    assert revoked.is_checked()
    assert "Đã thu hồi" in page.locator("#edit li", has=page.locator("[value='tab-quay-2']")).inner_text()
    assert "Đã thu hồi" not in page.locator("#edit li", has=page.locator("[value='tab-quay-1']")).inner_text()
    page.locator("#edit").screenshot(path=str(shots / "survey-campaign-revoked-tablet.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#edit").screenshot(path=str(shots / "survey-campaign-revoked-tablet-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    # Saved as it is (a later last day), the campaign still names both tablets.
    page.fill("#edit #ends_on", (_today(surveyed) + timedelta(days=30)).isoformat())
    page.click("#edit button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#notice").is_visible()
    with surveyed.engine.begin() as conn:
        assert stored.campaign(conn, cid).device_ids == ("tab-quay-1", "tab-quay-2")
    # Unticked, it goes; and a form for a new campaign offers active tablets only.
    page.click("#edit summary")
    page.uncheck("#edit input[name='device_ids'][value='tab-quay-2']")
    page.click("#edit button[type=submit]")
    page.wait_for_load_state()
    with surveyed.engine.begin() as conn:
        assert stored.campaign(conn, cid).device_ids == ("tab-quay-1",)
    page.goto(f"{surveyed.url}/surveys/campaigns/new")
    assert page.locator("input[name='device_ids'][value='tab-quay-2']").count() == 0
    assert page.locator("input[name='device_ids'][value='tab-quay-1']").count() == 1


def test_a_phone_answers_through_the_public_link(surveyed, browser, shots):
    qid, cid = _template_campaign(surveyed)
    with surveyed.engine.begin() as conn:
        campaign = stored.campaign(conn, cid)
    link = f"{surveyed.url}/s/{campaign.public_token}"
    first = requests.get(link, timeout=10)
    assert first.status_code == 200 and len(first.content) <= 50 * 1024, len(first.content)
    assert "<script" not in first.text
    context = browser.new_context(viewport=PHONE_WIDTH, java_script_enabled=False, locale="vi-VN")
    phone = context.new_page()
    try:
        phone.goto(link)
        phone.screenshot(path=str(shots / "survey-phone.png"), full_page=True)
        # Who served: the roster's officers, with their portraits (small).
        portraits = phone.locator(".officer-pick img")
        assert portraits.count() >= 2
        src = portraits.first.get_attribute("src")
        picture = requests.get(surveyed.url + src, timeout=10)
        assert picture.headers["content-type"] == "image/jpeg" and len(picture.content) < 12_000
        # Some answers, but not every required one: refused, everything kept.
        phone.check("input[name='a.tc1'][value='4']")
        phone.check("input[name='a.tc4'][value='cong-dvc']")
        officer_id = phone.locator("input[name='a.cc0']").first.get_attribute("value")
        phone.check(f"input[name='a.cc0'][value='{officer_id}']")
        phone.fill("textarea[name='a.gy4']", "Nên có thêm chỗ ngồi chờ.")
        phone.click("form.survey-answers button[type=submit]")
        phone.wait_for_load_state()
        assert "câu bắt buộc" in phone.inner_text("#error")
        assert phone.locator("fieldset.flagged").count() == 4  # tt1, cc1, kq1, gy3
        assert phone.is_checked("input[name='a.tc1'][value='4']")
        assert phone.is_checked(f"input[name='a.cc0'][value='{officer_id}']")
        assert phone.input_value("textarea[name='a.gy4']") == "Nên có thêm chỗ ngồi chờ."
        phone.screenshot(path=str(shots / "survey-phone-missing.png"), full_page=True)
        for key, value in (("tt1", "5"), ("cc1", "5"), ("kq1", "dung-hen"), ("gy3", "4")):
            phone.check(f"input[name='a.{key}'][value='{value}']")
        phone.click("form.survey-answers button[type=submit]")
        phone.wait_for_load_state()
        assert "Cảm ơn" in phone.inner_text("h1")
        phone.screenshot(path=str(shots / "survey-phone-thanks.png"), full_page=True)
    finally:
        context.close()
    with surveyed.engine.begin() as conn:
        (answered,) = stored.responses(conn, cid)
        row = conn.execute(select(tables.survey_responses)).mappings().one()
    assert answered.channel == "phone" and answered.complete and answered.questionnaire_version == 1
    assert answered.answers == {
        "tc1": 4,
        "tc4": "cong-dvc",
        "tt1": 5,
        "cc0": officer_id,
        "cc1": 5,
        "kq1": "dung-hen",
        "gy3": 4,
        "gy4": "Nên có thêm chỗ ngồi chờ.",
    }
    # Anonymous: nothing of the phone is kept with the answers.
    assert row["device_id"] is None and row["entered_by"] is None and row["record_uuid"] is None
    assert "127.0.0.1" not in str(dict(row))


def test_a_link_that_takes_no_answers_says_why(surveyed):
    today = _today(surveyed)
    _, ended = _template_campaign(surveyed, starts_on=today - timedelta(days=30), ends_on=today - timedelta(days=1))
    _, later = _template_campaign(surveyed, starts_on=today + timedelta(days=3), ends_on=today + timedelta(days=9))
    _, no_link = _template_campaign(surveyed, public_link=False)
    with surveyed.engine.begin() as conn:
        tokens = {cid: stored.campaign(conn, cid).public_token for cid in (ended, later, no_link)}
    for cid, status, words in ((ended, 410, "đã kết thúc"), (later, 403, "chưa bắt đầu"), (no_link, 404, "Không có")):
        answer = requests.get(f"{surveyed.url}/s/{tokens[cid]}", timeout=10)
        assert answer.status_code == status and words in answer.text, cid
        posted = requests.post(f"{surveyed.url}/s/{tokens[cid]}", data={"a.tc1": "5"}, timeout=10)
        assert posted.status_code == status
    assert requests.get(f"{surveyed.url}/s/khong-co-dot-nay", timeout=10).status_code == 404
    with surveyed.engine.begin() as conn:
        assert conn.execute(select(tables.survey_responses)).first() is None


def test_posts_from_one_address_are_limited_on_a_budget_of_their_own_and_a_stale_form_is_refused(surveyed):
    from server.comments import POSTS_PER_HOUR, SURVEY_POSTS_PER_HOUR

    _, cid = _template_campaign(surveyed)
    with surveyed.engine.begin() as conn:
        link = f"{surveyed.url}/s/{stored.campaign(conn, cid).public_token}"
    http = requests.Session()
    http.get(link, timeout=10)
    # No form cookie: another site's post, refused.
    assert requests.post(link, data={"csrf": "x", "a.tc1": "5"}, timeout=10).status_code == 403
    html = http.get(link, timeout=10).text
    statuses = []
    # A hall's Wi-Fi is one address for every citizen in it: far more than
    # the other forms' budget is taken before the survey's own runs out.
    assert SURVEY_POSTS_PER_HOUR > 5 * POSTS_PER_HOUR
    for _ in range(SURVEY_POSTS_PER_HOUR):
        answer = http.post(link, data={"csrf": form_token(html), "a.tc1": "9"}, timeout=10)
        statuses.append(answer.status_code)
        html = answer.text
        if len(statuses) == 1:
            first_refusal = html
    # The refused posts above counted too: the limit is per address, whatever the post.
    assert statuses == [422] * (SURVEY_POSTS_PER_HOUR - 1) + [429]
    assert "Hãy chọn một mức từ 1 đến 5" in first_refusal
    with surveyed.engine.begin() as conn:
        assert conn.execute(select(tables.survey_responses)).first() is None
    # The suggestion box keeps its own budget: the survey did not use it up.
    box = http.get(f"{surveyed.url}/gop-y", timeout=10).text
    sent = http.post(f"{surveyed.url}/gop-y", data={"csrf": form_token(box), "text": "Cảm ơn cán bộ."},
                     timeout=10, allow_redirects=False)
    assert sent.status_code == 303


def test_the_admin_sets_the_survey_budget_for_a_crowd_on_one_address(surveyed):
    _, cid = _template_campaign(surveyed)
    with surveyed.engine.begin() as conn:
        link = f"{surveyed.url}/s/{stored.campaign(conn, cid).public_token}"
    admin = logged_in_admin(surveyed)
    settings = admin.get(f"{surveyed.url}/settings", timeout=10).text
    assert 'name="survey_posts_per_hour"' in settings
    # Refused with its reason, and nothing changed: not a count.
    refused = admin.post(f"{surveyed.url}/settings", timeout=10,
                         data={"csrf": form_token(settings), "survey_posts_per_hour": "0"})
    assert 'name="survey_posts_per_hour" type="text" value="0" maxlength="5" autocomplete="off" inputmode="numeric" ' \
        'aria-invalid="true"' in refused.text
    assert load_settings(surveyed.engine).survey_posts_per_hour == 120
    saved = admin.post(f"{surveyed.url}/settings", timeout=10,
                       data={"csrf": form_token(settings), "survey_posts_per_hour": "3"})
    assert saved.status_code == 200 and load_settings(surveyed.engine).survey_posts_per_hour == 3
    http = requests.Session()
    html = http.get(link, timeout=10).text
    statuses = []
    for _ in range(4):
        answer = http.post(link, data={"csrf": form_token(html), "a.tc1": "9"}, timeout=10)
        statuses.append(answer.status_code)
        html = answer.text
    assert statuses == [422, 422, 422, 429]


def test_paper_forms_are_typed_in_one_after_another(surveyed, page, shots):
    qid, cid = _template_campaign(surveyed)
    login_as(page, surveyed.url, Role.OBSERVER)
    page.goto(f"{surveyed.url}/surveys/campaigns/{cid}")
    page.click("#paper-entry")
    page.wait_for_load_state()
    assert "0 phiếu" in page.inner_text("#paper-counter")
    page.check("input[name='a.tc1'][value='3']")
    page.check("input[name='a.tt1'][value='4']")
    page.check("input[name='a.cc1'][value='5']")
    page.check("input[name='a.kq1'][value='tre-hen']")
    page.check("input[name='a.gy3'][value='2']")
    page.fill("textarea[name='a.gy4']", "Phải đi lại hai lần vì thiếu giấy tờ.")
    page.click("#save-paper")
    page.wait_for_load_state()
    assert "phiếu số 1" in page.inner_text("#notice")
    assert "1 phiếu" in page.inner_text("#paper-counter")
    # The next form starts blank; a form with a required question left blank is stored as incomplete.
    assert not page.is_checked("input[name='a.tc1'][value='3']")
    page.check("input[name='a.tc1'][value='5']")
    page.click("#save-paper")
    page.wait_for_load_state()
    assert "chưa đầy đủ" in page.inner_text("#notice") and "2 phiếu" in page.inner_text("#paper-counter")
    page.screenshot(path=str(shots / "survey-paper.png"), full_page=True)
    with surveyed.engine.begin() as conn:
        listed = stored.responses(conn, cid)
        observer_id = conn.execute(
            select(tables.accounts.c.id).where(tables.accounts.c.username == "observer")
        ).scalar()
        entries = conn.execute(
            select(tables.audit_log.c.actor, tables.audit_log.c.target).where(
                tables.audit_log.c.action == "survey.paper.enter"
            )
        ).all()
    assert [(r.channel, r.complete, r.entered_by) for r in listed] == [
        ("paper", True, observer_id),
        ("paper", False, observer_id),
    ]
    assert listed[0].answers["gy4"] == "Phải đi lại hai lần vì thiếu giấy tờ."
    assert entries == [("observer", f"campaign {cid}")] * 2


def test_editing_an_answered_questionnaire_makes_a_new_version(surveyed, page):
    qid, cid = _template_campaign(surveyed)
    with surveyed.engine.begin() as conn:
        stored.add_response(
            conn,
            campaign_id=cid,
            questionnaire_id=qid,
            questionnaire_version=1,
            channel="kiosk",
            answered_at="2026-03-02T09:00:00+07:00",
            answers={"tc1": 5},
            complete=False,
            device_id="tab-quay-1",
            record_uuid="rec-1",
        )
    login_as(page, surveyed.url, Role.OBSERVER)
    page.goto(f"{surveyed.url}/surveys/questionnaires/{qid}")
    assert "phiên bản 2" in page.inner_text(".versioned")
    page.fill("textarea[name='s4.q3.text']", "Ông/Bà có đề xuất gì thêm?")
    page.click("#save")
    page.wait_for_load_state()
    with surveyed.engine.begin() as conn:
        assert stored.questionnaire(conn, qid).version == 2
        assert stored.questionnaire(conn, qid, 1).question("gy4").text.startswith("Ông/Bà có góp ý gì")
        assert [r.questionnaire_version for r in stored.responses(conn, cid)] == [1]
        assert stored.campaign(conn, cid).questionnaire.version == 2
        assert (
            conn.execute(
                select(tables.audit_log.c.id).where(tables.audit_log.c.action == "survey.questionnaire.version")
            ).first()
            is not None
        )
    # The old version is still there to read.
    page.goto(f"{surveyed.url}/surveys/questionnaires/{qid}?version=1")
    assert "Ông/Bà có góp ý gì" in page.inner_text("main")


@pytest.mark.parametrize("width", [1280, 390])
def test_survey_pages_at_desktop_and_phone_width(surveyed, browser, shots, width):
    qid, cid = _template_campaign(surveyed)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN")
    page = context.new_page()
    try:
        login_as(page, surveyed.url, Role.OBSERVER)
        for name, path in (
            ("list", "/surveys"),
            ("designer", f"/surveys/questionnaires/{qid}"),
            ("campaign", f"/surveys/campaigns/{cid}"),
            ("paper", f"/surveys/campaigns/{cid}/paper"),
        ):
            page.goto(surveyed.url + path)
            page.screenshot(path=str(shots / f"survey-{name}-{width}.png"), full_page=True)
            assert page.locator("h1").count() >= 1
            # Nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, (name, width)
    finally:
        context.close()


def test_a_long_questionnaire_fits_the_designers_body_limit(surveyed):
    # 80 questions of 400 Vietnamese letters: about 95 KB URL-encoded, past the 64 KiB of other forms.
    observer = _session(surveyed, Role.OBSERVER)
    token = form_token(observer.get(surveyed.url + "/surveys/questionnaires/new").text)
    fields = {
        "csrf": token,
        "id": "",
        "title": "Phiếu dài",
        "intro": "",
        "action": "save",
        "s0.present": "1",
        "s0.title": "Phần dài",
    }
    for j in range(80):
        fields.update(
            {
                f"s0.q{j}.present": "1",
                f"s0.q{j}.key": f"q{j + 1}",
                f"s0.q{j}.kind": "text",
                f"s0.q{j}.text": ("Ý kiến của Ông/Bà về thủ tục " * 20)[:400],
            }
        )
    answer = observer.post(surveyed.url + "/surveys/questionnaires", data=fields, allow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    with surveyed.engine.begin() as conn:
        (saved,) = stored.questionnaires(conn)
    assert len(saved.questions) == 80


def test_a_wrong_paper_answer_is_refused_and_a_campaign_without_paper_takes_none(surveyed):
    qid, cid = _template_campaign(surveyed)
    _, no_paper = _template_campaign(surveyed, paper=False)
    observer = _session(surveyed, Role.OBSERVER)
    page_html = observer.get(f"{surveyed.url}/surveys/campaigns/{cid}/paper").text
    refused = observer.post(
        f"{surveyed.url}/surveys/campaigns/{cid}/paper",
        data={"csrf": form_token(page_html), "a.tc1": "9", "a.gy4": "Giữ lại chữ này"},
    )
    assert refused.status_code == 422 and "Hãy chọn một mức từ 1 đến 5" in refused.text
    assert "Giữ lại chữ này" in refused.text
    closed = observer.get(f"{surveyed.url}/surveys/campaigns/{no_paper}/paper")
    assert closed.status_code == 409 and "không thu phiếu giấy" in closed.text
    posted = observer.post(
        f"{surveyed.url}/surveys/campaigns/{no_paper}/paper", data={"csrf": form_token(page_html), "a.tc1": "5"}
    )
    assert posted.status_code == 409
    with surveyed.engine.begin() as conn:
        assert stored.responses(conn, cid) == [] and stored.responses(conn, no_paper) == []


def test_the_designer_warns_that_a_begun_campaign_makes_the_edit_a_new_version(surveyed):
    """No answer yet, but a campaign has begun: tablets and phones may hold
    the wording, so the designer says saving makes a new version, and it does."""
    later_qid, _ = _template_campaign(surveyed, starts_on=_today(surveyed) + timedelta(days=10),
                                      ends_on=_today(surveyed) + timedelta(days=20))
    begun_qid, _ = _template_campaign(surveyed)
    observer = _session(surveyed, Role.OBSERVER)
    later = observer.get(f"{surveyed.url}/surveys/questionnaires/{later_qid}")
    begun = observer.get(f"{surveyed.url}/surveys/questionnaires/{begun_qid}")
    assert later.status_code == begun.status_code == 200
    assert "versioned" not in later.text
    assert "Một đợt khảo sát hỏi phiếu này đã bắt đầu" in begun.text and "phiên bản 2" in begun.text
    with surveyed.engine.begin() as conn:
        plain = stored.questionnaire(conn, begun_qid).to_dict()
        saved = stored.save_questionnaire(conn, {**plain, "title": "Phiếu đã sửa"}, by_account=None)
    assert saved.version == 2


def test_the_same_phone_form_posted_twice_is_one_answer_set(surveyed):
    """A double tap on "Gửi", or the answer posted again: the citizen sees the
    thanks both times, and the campaign counts one answer set; a new form
    opened afterwards is a new citizen's."""
    from server.surveys import FIELD_PREFIX

    _, cid = _template_campaign(surveyed)
    with surveyed.engine.begin() as conn:
        campaign = stored.campaign(conn, cid)
    link = f"{surveyed.url}/s/{campaign.public_token}"
    answers = {}
    for question in campaign.contract.questionnaire.questions:
        if question.kind == "scale":
            answers[FIELD_PREFIX + question.key] = "4"
        elif question.kind == "single":
            answers[FIELD_PREFIX + question.key] = question.options[0].key
    http = requests.Session()
    sent = {**answers, "csrf": form_token(http.get(link, timeout=10).text)}
    first = http.post(link, data=sent, timeout=10, allow_redirects=False)
    again = http.post(link, data=sent, timeout=10, allow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == f"/s/{campaign.public_token}?sent=1"
    with surveyed.engine.begin() as conn:
        assert len(stored.responses(conn, cid)) == 1
    fresh = {**answers, "csrf": form_token(http.get(link, timeout=10).text)}
    assert http.post(link, data=fresh, timeout=10, allow_redirects=False).status_code == 303
    with surveyed.engine.begin() as conn:
        assert len(stored.responses(conn, cid)) == 2
