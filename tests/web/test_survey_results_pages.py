"""The survey results pages on a real commune server over loopback, on
answer sets stored through the real store: who may read them (admin,
observer, leaders; never officers, never anonymous callers), who sees the
citizens' texts, the downloads read back, and the results and comparison
pages in headless Chromium (the baseline against the latest shows the
difference that is beyond chance, and the one that is not)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from server.accounts import AccountBook, Role
from server.roster import RosterStore, new_tree, save_counter, save_officer
from server.store import surveys as stored
from tests.survey_samples import BASELINE, LATEST, OFFICERS, baseline_sets, latest_sets, plain_questionnaire
from tests.sync_support import Commune
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, make_accounts

pytestmark = pytest.mark.xdist_group("web")


def _seed(engine) -> dict[str, str]:
    """The roster's officers, the questionnaire, the baseline and the latest
    campaign with their answer sets; the campaigns' stored ids."""
    tree = new_tree("UBND phường Hòa Bình")
    counter = save_counter(tree, None, "Quầy 1")
    for officer_id, name in OFFICERS.items():
        tree["officers"].append({"id": officer_id})
        save_officer(tree, officer_id, name=name, title="Công chức", counter=counter)
    RosterStore(engine).publish(tree, {})
    ids = {}
    with engine.begin() as conn:
        questionnaire = stored.save_questionnaire(conn, plain_questionnaire(), by_account=None)
        for campaign, sets in ((BASELINE, baseline_sets()), (LATEST, latest_sets())):
            made = stored.create_campaign(
                conn,
                title=campaign.title,
                questionnaire_id=questionnaire.id,
                starts_on=campaign.starts_on,
                ends_on=campaign.ends_on,
                kiosk=True,
                device_ids=None,
                public_link=True,
                paper=True,
                target=200,
                by_account=None,
            )
            ids[campaign.id] = made
            for answer_set in sets:
                stored.add_response(
                    conn,
                    campaign_id=made,
                    questionnaire_id=questionnaire.id,
                    questionnaire_version=questionnaire.version,
                    channel=answer_set.channel,
                    answered_at=answer_set.answered_at,
                    answers=dict(answer_set.answers),
                    complete=answer_set.complete,
                )
    return ids


@pytest.fixture
def surveyed(tmp_path):
    with Commune(tmp_path) as commune:
        make_accounts(commune.engine, "lan")
        commune.ids = _seed(commune.engine)
        yield commune


def _agree(sets, key):
    values = [s.answers[key] for s in sets if key in s.answers]
    return sum(1 for v in values if v >= 4), len(values)


def _session(commune, role: Role):
    return api_login(commune.url, role.value, PASSWORDS[role])


def _routes(commune) -> list[str]:
    latest = commune.ids[LATEST.id]
    return [
        "/survey-results",
        f"/survey-results/{latest}",
        f"/survey-results/{latest}/results.xlsx",
        f"/survey-results/{latest}/results.pdf",
        "/survey-results/compare",
        "/survey-results/compare.xlsx",
        "/survey-results/compare.pdf",
        f"/survey-results/{latest}/questionnaire.pdf",
    ]


def test_officers_and_anonymous_callers_are_refused_every_results_route(surveyed) -> None:
    import requests

    officer = _session(surveyed, Role.OFFICER)
    for path in _routes(surveyed):
        answer = officer.get(surveyed.url + path, timeout=30, allow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
        assert not answer.content.startswith((b"PK", b"%PDF")) and "Thời gian chờ đợi" not in answer.text
        anonymous = requests.get(surveyed.url + path, timeout=30, allow_redirects=False)
        assert anonymous.status_code in (303, 307) and anonymous.headers["location"].startswith("/login"), path
    assert "/survey-results" not in officer.get(surveyed.url + "/", timeout=30).text


def test_the_admin_observer_and_leader_read_the_results_and_only_the_latter_two_the_texts(surveyed) -> None:
    latest = surveyed.ids[LATEST.id]
    satisfied, n = _agree(latest_sets(), "wait")
    share = f"{100 * satisfied / n:.1f}".replace(".", ",") + "%"
    for role, texts in ((Role.ADMIN, False), (Role.OBSERVER, True), (Role.LEADER, True)):
        http = _session(surveyed, role)
        html = http.get(f"{surveyed.url}/survey-results/{latest}", timeout=30).text
        assert f"Đồng ý (mức 4–5): {share}" in html, role
        assert ("Cần thêm ghế chờ vào buổi sáng thứ Hai." in html) is texts, role
        assert "0912 345 678" not in html and "Liên hệ •••" in html if texts else True
        workbook = load_workbook(
            io.BytesIO(http.get(f"{surveyed.url}/survey-results/{latest}/results.xlsx", timeout=60).content)
        )
        assert ("Ý kiến người dân" in workbook.sheetnames) is texts, role
    entries, _ = AccountBook(surveyed.engine).audit_entries()
    downloads = [e for e in entries if e.action == "survey.download"]
    assert len(downloads) == 3 and {e.actor for e in downloads} == {"admin", "observer", "leader"}


def test_the_channel_filter_and_the_paper_questionnaire(surveyed, tmp_path: Path) -> None:
    latest = surveyed.ids[LATEST.id]
    http = _session(surveyed, Role.OBSERVER)
    paper = [s for s in latest_sets() if s.channel == "paper"]
    html = http.get(f"{surveyed.url}/survey-results/{latest}", params={"channel": "paper"}, timeout=30).text
    assert f'<span class="rate-value" id="respondents">{len(paper)}</span>' in html
    satisfied, n = _agree(paper, "wait")
    assert f"{100 * satisfied / n:.1f}".replace(".", ",") + "%" in html
    answer = http.get(f"{surveyed.url}/survey-results/{latest}/questionnaire.pdf", timeout=30)
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].endswith(
        'filename="phieu-khao-sat-' + answer.headers["content-disposition"].split("phieu-khao-sat-")[1]
    )
    path = tmp_path / "form.pdf"
    path.write_bytes(answer.content)
    text = " ".join(
        subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout.split()
    )
    assert "PHIẾU KHẢO SÁT" in text and "Nguyễn Thị Lan" in text and "Khảo sát quý II năm 2026" in text


def test_the_comparison_downloads_read_back(surveyed, tmp_path: Path) -> None:
    http = _session(surveyed, Role.LEADER)
    ids = {"before": surveyed.ids[BASELINE.id], "after": surveyed.ids[LATEST.id]}
    book = load_workbook(
        io.BytesIO(http.get(f"{surveyed.url}/survey-results/compare.xlsx", params=ids, timeout=60).content)
    )
    wait = next(r for r in book["So sánh"].iter_rows(min_row=2, values_only=True) if r[0] == "wait")
    assert (wait[4], wait[5]) == _agree(baseline_sets(), "wait") and (wait[9], wait[10]) == _agree(
        latest_sets(), "wait"
    )
    assert wait[15] == "Có"
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(http.get(f"{surveyed.url}/survey-results/compare.pdf", params=ids, timeout=60).content)
    text = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout.split()
    )
    assert "So sánh kết quả hai đợt khảo sát" in text and "Tăng rõ rệt" in text


def test_results_and_comparison_in_chromium(surveyed, page) -> None:
    latest, baseline = surveyed.ids[LATEST.id], surveyed.ids[BASELINE.id]
    login_as(page, surveyed.url, Role.OBSERVER)
    page.goto(f"{surveyed.url}/survey-results")
    assert page.locator("tr.result-campaign").count() == 2
    page.click(f"a[href='/survey-results/{latest}']")
    page.wait_for_load_state()
    assert page.locator("#respondents").inner_text() == "180"
    # The charts are drawn (Chart.js from the server itself): figures shown, canvases sized.
    page.wait_for_function("() => document.querySelectorAll('figure.chart:not([hidden]) canvas').length > 5")
    assert page.locator("#timeline-chart").bounding_box()["height"] > 100
    page.click("a.chip[data-channel='phone']")
    page.wait_for_load_state()
    phone = sum(1 for s in latest_sets() if s.channel == "phone")
    assert page.locator("#respondents").inner_text() == str(phone)
    page.click(".lang a[hreflang='en']")
    page.wait_for_load_state()
    assert "Agree (points 4–5)" in page.content()

    page.goto(f"{surveyed.url}/survey-results/compare")
    assert page.locator("#before").input_value() == baseline and page.locator("#after").input_value() == latest
    wait = page.locator("section.compared[data-key='wait'] tr.change")
    assert "direction-up" in wait.get_attribute("class")
    before, after = _agree(baseline_sets(), "wait"), _agree(latest_sets(), "wait")
    assert wait.locator(".before-share").inner_text() == f"{100 * before[0] / before[1]:.1f}%"
    assert wait.locator(".after-share").inner_text() == f"{100 * after[0] / after[1]:.1f}%"
    attitude = page.locator("section.compared[data-key='attitude'] tr.change")
    assert "direction-same" in attitude.get_attribute("class")
    page.wait_for_function("() => !document.querySelector('#compare-chart').closest('figure').hidden")
    # Swapped, the same difference reads as a fall.
    page.select_option("#before", latest)
    page.select_option("#after", baseline)
    page.click(".compare-form button[type=submit]")
    page.wait_for_load_state()
    assert "direction-down" in page.locator("section.compared[data-key='wait'] tr.change").get_attribute("class")


def test_answers_of_an_older_version_are_shown_under_its_own_questions(surveyed) -> None:
    latest = surveyed.ids[LATEST.id]
    changed = plain_questionnaire()
    changed["sections"][0]["questions"][0]["text"] = "Thời gian chờ đợi không quá 15 phút"
    with surveyed.engine.begin() as conn:
        v2 = stored.save_questionnaire(conn, changed, by_account=None)
        assert v2.version == 2  # answered already: the edit is a new version
        for value in (5, 4, 1):
            stored.add_response(
                conn,
                campaign_id=latest,
                questionnaire_id=v2.id,
                questionnaire_version=2,
                channel="paper",
                answered_at="2026-05-10T03:00:00+00:00",
                answers={"wait": value},
                complete=True,
            )
    html = _session(surveyed, Role.OBSERVER).get(f"{surveyed.url}/survey-results/{latest}", timeout=30).text
    assert "Phiếu phiên bản 2 (3 phiếu)" in html and "Phiếu phiên bản 1 (180 phiếu)" in html
    assert html.index("Thời gian chờ đợi không quá 15 phút") < html.index("Phiếu phiên bản 1")
    assert html.index("Phiếu phiên bản 1") < html.index("Thời gian chờ đợi đến lượt được giải quyết là hợp lý")
    assert "Đồng ý (mức 4–5): 66,7%" in html  # 2 of the 3 under version 2


def test_a_campaign_nobody_answered_yet_has_its_pages_and_files(surveyed) -> None:
    from datetime import date

    with surveyed.engine.begin() as conn:
        questionnaire = stored.questionnaire(conn, LATEST.questionnaire.id) or stored.questionnaires(conn)[0]
        fresh = stored.create_campaign(
            conn,
            title="Khảo sát quý IV",
            questionnaire_id=questionnaire.id,
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 12, 31),
            kiosk=False,
            device_ids=None,
            public_link=True,
            paper=True,
            target=0,
            by_account=None,
        )
    http = _session(surveyed, Role.LEADER)
    page = http.get(f"{surveyed.url}/survey-results/{fresh}", timeout=30)
    assert page.status_code == 200 and '<span class="rate-value" id="respondents">0</span>' in page.text
    for suffix in ("results.xlsx", "results.pdf", "questionnaire.pdf"):
        answer = http.get(f"{surveyed.url}/survey-results/{fresh}/{suffix}", timeout=30)
        assert answer.status_code == 200 and answer.content.startswith((b"PK", b"%PDF")), suffix
    compared = http.get(
        f"{surveyed.url}/survey-results/compare", timeout=30, params={"before": fresh, "after": surveyed.ids[LATEST.id]}
    )
    assert compared.status_code == 200 and "Chưa khác biệt rõ" in compared.text and "Tăng rõ rệt" not in compared.text
    assert http.get(f"{surveyed.url}/survey-results/khong-co", timeout=30).status_code == 404
