"""The letters on the dashboard, on a real server fed by a real tablet: a
leader downloads a case's apology and a comment's thank-you as PDF and DOCX
(the same number both times, the officer's counter from the roster, no phone
number); officers, observers and an admin the case is not given to get 403,
anonymous visitors the login page, and no letter is issued for them; the
server's ``--letter-templates`` folder changes the letter, and a broken
template gives a clear page; the buttons in Chromium, at 1280 and 390 px
(screenshots to ``HAILONG_SHOTS`` when set)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from docx import Document
from sqlalchemy import select

from kiosk.desk import DeviceClock
from server.accounts import Role
from server.comments import CommentBox
from server.letters import count_issued, write_shipped_templates
from server.roster import RosterStore
from server.store import tables
from server.store.ratings import counter_names
from tests.sync_support import Commune, ManualClock, Tablet
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, make_accounts

pytestmark = [pytest.mark.xdist_group("web"),
              pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (make browser)")]

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0987654321"
CITIZEN = "Lê Thị Thu Hương"
SHOTS = os.environ.get("HAILONG_SHOTS")
ALWAYS = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _tablet_tree(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["working_hours"]["enforce"] = False


@pytest.fixture
def lettered(tmp_path):
    """A commune whose tablet recorded, on Thursday 5 March 2026 in Hanoi, a
    lowest-level rating with a call-back (a case) and a top one with a
    citizen's comment; and a signed suggestion. Gives (commune, case id,
    comment id, suggestion id, the counter's name)."""
    server_clock = ManualClock()
    local = datetime(2026, 3, 5, 9, 0, tzinfo=HANOI)
    server_clock.now = local.astimezone(UTC)
    clock = DeviceClock(now=lambda: local, monotonic_ns=lambda: 7 * 10**12, boot=lambda: "boot-a")
    with Commune(tmp_path, clock=server_clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=clock, tree_changes=_tablet_tree)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        officer = tablet.settings.active_officers[0]
        low = tablet.desk.rate(officer.id, 1)
        tablet.desk.add_details(low, ["waited_long"], PHONE, consent=True)
        good = tablet.desk.rate(officer.id, tablet.settings.scale)
        assert tablet.uploader().run_once().pending == 0
        make_accounts(commune.engine, officer.id)
        box = CommentBox(commune.engine, clock=server_clock)
        comment = box.comment_on_rating(good.uuid, good.comment_token, text="Cán bộ hướng dẫn rất tận tình",
                                        phone=None, consent=False, address="192.0.2.1")
        suggestion = box.suggest(text="Xin bố trí thêm ghế chờ", name=CITIZEN, phone=None, consent=False,
                                 address="192.0.2.2")
        with commune.engine.begin() as conn:
            case_id = conn.execute(select(tables.cases.c.id).where(tables.cases.c.rating_uuid == low.uuid)).scalar_one()
            counters = counter_names(conn)
        tablet.close()
        yield commune, case_id, comment, suggestion, counters.get(low.counter_id or "", "")


def session(commune, role: Role) -> requests.Session:
    return api_login(commune.url, role.value, PASSWORDS[role])


def text_of_pdf(content: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())


def letter_audit(commune) -> list[dict]:
    with commune.engine.begin() as conn:
        rows = conn.execute(select(tables.audit_log).order_by(tables.audit_log.c.id)).mappings()
        return [dict(r) for r in rows if r["action"].startswith("letter.")]


def test_a_leader_downloads_both_letters_as_pdf_and_docx(lettered):
    commune, case_id, comment_id, suggestion_id, counter = lettered
    leader = session(commune, Role.LEADER)
    case_page = leader.get(f"{commune.url}/cases/{case_id}", timeout=10).text
    assert f"/cases/{case_id}/letters/apology.pdf" in case_page and "Thư xin lỗi (PDF)" in case_page

    answer = leader.get(f"{commune.url}/cases/{case_id}/letters/apology.pdf", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="thu-xin-loi-so-1-2026.pdf"'
    assert answer.headers["cache-control"] == "no-store"
    text = text_of_pdf(answer.content)
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "ỦY BAN NHÂN DÂN",
                     "Số: 1/TXL-UBND", "ngày 05 tháng 3 năm 2026", "THƯ XIN LỖI", "ngày 05/3/2026"):
        assert expected in text, expected
    if counter:
        assert f"Bộ phận Một cửa ({counter})" in text
    assert PHONE not in text and PHONE[1:] not in text.replace(" ", "")

    docx = leader.get(f"{commune.url}/cases/{case_id}/letters/apology.docx", timeout=30)
    assert docx.status_code == 200 and docx.headers["content-type"].endswith("wordprocessingml.document")
    document = Document(io.BytesIO(docx.content))
    cells = [p.text for t in document.tables for row in t.rows for c in row.cells for p in c.paragraphs]
    assert "Số: 1/TXL-UBND" in cells  # the same letter: no second number
    assert "THƯ XIN LỖI" in [p.text for p in document.paragraphs]
    assert "Thư đã được cấp số 1/TXL" in leader.get(f"{commune.url}/cases/{case_id}", timeout=10).text

    suggestions = leader.get(f"{commune.url}/comments?kind=suggestion", timeout=10).text
    assert f"/comments/{suggestion_id}/letters/thanks.pdf" in suggestions
    thanks = leader.get(f"{commune.url}/comments/{suggestion_id}/letters/thanks.pdf", timeout=30)
    assert thanks.status_code == 200
    thanks_text = text_of_pdf(thanks.content)
    assert f"Kính gửi: Ông/Bà {CITIZEN}" in thanks_text and "Số: 1/TCƠ-UBND" in thanks_text
    assert "ghế chờ" not in thanks_text
    rated = leader.get(f"{commune.url}/comments?kind=rating", timeout=10).text
    assert f"/comments/{comment_id}/letters/thanks.docx" in rated
    second = leader.get(f"{commune.url}/comments/{comment_id}/letters/thanks.docx", timeout=30)
    assert second.status_code == 200
    assert "Số: 2/TCƠ-UBND" in [p.text for t in Document(io.BytesIO(second.content)).tables
                                 for row in t.rows for c in row.cells for p in c.paragraphs]
    assert "Đã cấp số 1/TCƠ" in leader.get(f"{commune.url}/comments?kind=suggestion", timeout=10).text

    assert count_issued(commune.engine, *ALWAYS) == {"apology": 1, "thanks": 2}
    entries = letter_audit(commune)
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("letter.issue", "leader", f"case {case_id}"), ("letter.download", "leader", f"case {case_id}"),
        ("letter.issue", "leader", f"comment {suggestion_id}"), ("letter.issue", "leader", f"comment {comment_id}")]
    assert all(CITIZEN not in str(e) and PHONE not in str(e) for e in entries)


def test_others_are_refused_and_issue_nothing(lettered):
    commune, case_id, comment_id, suggestion_id, _counter = lettered
    paths = [f"/cases/{case_id}/letters/apology.pdf", f"/cases/{case_id}/letters/apology.docx",
             f"/comments/{suggestion_id}/letters/thanks.pdf", f"/comments/{comment_id}/letters/thanks.docx"]
    for role in (Role.OFFICER, Role.OBSERVER, Role.ADMIN):
        caller = session(commune, role)
        for path in paths:
            answer = caller.get(commune.url + path, timeout=10, allow_redirects=False)
            assert answer.status_code == 403, (role, path, answer.status_code)
            assert "%PDF" not in answer.text
    for path in paths:
        answer = requests.get(commune.url + path, timeout=10, allow_redirects=False)
        assert answer.status_code in (303, 307) and answer.headers["location"].startswith("/login")
    # The officer sees the case, without the letter's buttons.
    officer_page = session(commune, Role.OFFICER).get(f"{commune.url}/cases/{case_id}", timeout=10).text
    assert "letters/apology" not in officer_page
    assert count_issued(commune.engine, *ALWAYS) == {"apology": 0, "thanks": 0}
    assert letter_audit(commune) == []
    # A missing case or comment is a 404 page; a complaint is not thanked.
    leader = session(commune, Role.LEADER)
    assert leader.get(f"{commune.url}/cases/999999/letters/apology.pdf", timeout=10).status_code == 404
    assert leader.get(f"{commune.url}/comments/999999/letters/thanks.pdf", timeout=10).status_code == 404


def test_the_servers_template_folder_changes_the_letter_and_a_broken_one_says_so(lettered, tmp_path):
    commune, case_id, _comment_id, _suggestion_id, _counter = lettered
    folder = tmp_path / "mau-thu"
    write_shipped_templates(folder)
    commune.app.state.launch = replace(commune.app.state.launch, letter_templates=folder)
    leader = session(commune, Role.LEADER)
    template = folder / "apology.vi.txt"
    template.write_text("Loại văn bản: THƯ XIN LỖI\nKính gửi: Ông/Bà {{ citizen or blank }}\n\n"
                        "{% if outcome %}Kết quả: {{ outcome }}{% else %}Chưa có kết quả\n", encoding="utf-8")
    broken = leader.get(f"{commune.url}/cases/{case_id}/letters/apology.pdf", timeout=30)
    assert broken.status_code == 500 and broken.headers["content-type"].startswith("text/html")
    assert "Mẫu thư đang bị lỗi" in broken.text and "apology.vi.txt" in broken.text
    assert "Traceback" not in broken.text and f"/cases/{case_id}" in broken.text
    assert count_issued(commune.engine, *ALWAYS)["apology"] == 0

    template.write_text("Loại văn bản: THƯ XIN LỖI\nKính gửi: Ông/Bà {{ citizen or blank }}\n\n"
                        "Xã {{ commune }} thành thật xin lỗi Ông/Bà về buổi làm việc ngày {{ visit_date }}.\n",
                        encoding="utf-8")
    fixed = leader.get(f"{commune.url}/cases/{case_id}/letters/apology.pdf", timeout=30)
    assert fixed.status_code == 200
    assert "thành thật xin lỗi Ông/Bà về buổi làm việc ngày 05/3/2026" in text_of_pdf(fixed.content)
    assert "Số: 1/TXL-UBND" in text_of_pdf(fixed.content)


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_buttons_download_the_letters_in_chromium(lettered, page):
    commune, case_id, _comment_id, suggestion_id, _counter = lettered
    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/cases/{case_id}")
    with page.expect_download() as waiting:
        page.click("#apology-pdf")
    download = waiting.value
    assert download.suggested_filename == "thu-xin-loi-so-1-2026.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF")
    page.reload()
    assert "1/TXL" in page.inner_text(".case-letters")
    shoot(page, "letters-case-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "letters-case-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{commune.url}/comments?kind=suggestion")
    with page.expect_download() as waiting:
        page.click(f"a[href='/comments/{suggestion_id}/letters/thanks.docx']")
    assert waiting.value.suggested_filename == "thu-cam-on-so-1-2026.docx"
    shoot(page, "letters-comments-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "letters-comments-390")
