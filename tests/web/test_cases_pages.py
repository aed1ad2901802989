"""The follow-up cases in headless Chromium, on a real server fed by a real
tablet: a low rating with a call-back opens a case, which shows on the board
and as the menu's badge; a leader takes it through every status; the officer
sees the case but never the number; once resolved, the number is on no page;
anonymous visitors are sent to the login page and the observer gets 403.
A citizen's comment and its case lead to each other (the comment's text on
the case's page for the leader only, the case's link and status on the
comments page, "erased" once erased); overdue cases stand out on the list and
their page, a case not yet due does not; each showing of the citizen's
number is audited, never with the number.
Screenshots of the pages at 1280 and 390 px go to ``HAILONG_SHOTS`` when set."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from kiosk.desk import DeviceClock
from server.accounts import AccountBook, Role
from server.roster import RosterStore
from server.store import comments as stored_comments
from server.store import tables
from tests.sync_support import Commune, ManualClock, Tablet
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token, make_accounts

pytestmark = pytest.mark.xdist_group("web")

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0987654321"
PUBLIC_URL = "https://hailong.xa-an-binh.vn"
COMMENT = "Tôi phải chờ hai tiếng ở quầy, cán bộ không giải thích vì sao."
SUGGESTION = "Đề nghị xã gọi lại cho tôi về hồ sơ cấp đổi sổ đỏ."
SHOTS = os.environ.get("HAILONG_SHOTS")


def _tablet_tree(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["working_hours"]["enforce"] = False


@pytest.fixture
def followed(tmp_path):
    """A commune whose tablet recorded, on Thursday 5 March 2026 in Hanoi, a
    lowest-level rating with a call-back (with consent), a good rating and a
    lowest-level one without; uploaded. Gives (commune, officer ids, names)."""
    server_clock = ManualClock()
    local = datetime(2026, 3, 5, 9, 0, tzinfo=HANOI)
    server_clock.now = local.astimezone(ZoneInfo("UTC"))
    clock = DeviceClock(now=lambda: local, monotonic_ns=lambda: 7 * 10**12, boot=lambda: "boot-a")
    with Commune(tmp_path, clock=server_clock, public_url=PUBLIC_URL) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=clock, tree_changes=_tablet_tree)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        officers = [o.id for o in tablet.settings.active_officers]
        names = {o.id: o.name for o in tablet.settings.active_officers}
        low = tablet.desk.rate(officers[0], 1)
        tablet.desk.add_details(low, ["waited_long"], PHONE, consent=True)
        tablet.desk.rate(officers[0], tablet.settings.scale)
        tablet.desk.rate(officers[1], 1)
        assert tablet.uploader().run_once().pending == 0
        make_accounts(commune.engine, officers[0])
        tablet.close()
        yield commune, officers, names


def follow(page, selector: str) -> None:
    """Click and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def digits_on(page) -> bool:
    """Whether the citizen's number (with or without its 0, spaced or not) is anywhere on the page."""
    html = page.content().replace(" ", "").replace(".", "")
    return PHONE[1:] in html


def test_a_leader_takes_a_case_through_every_status(followed, page, browser):
    commune, officers, names = followed
    login_as(page, commune.url, Role.LEADER)
    # The badge: two new cases; the board lists them.
    assert page.locator("nav.menu a[href='/cases'] .nav-count").inner_text() == "2"
    board = page.locator(".new-cases")
    assert board.locator("li").count() == 2 and names[officers[0]] in board.inner_text()
    assert not digits_on(page)
    shoot(page, "board-1280")

    follow(page, "nav.menu a[href='/cases']")
    rows = page.locator("table.cases-list tbody tr")
    assert rows.count() == 2
    mine = page.locator("table.cases-list tr", has_text=names[officers[0]])
    assert "Xin gọi lại" in mine.inner_text() and "Mới" in mine.inner_text()
    assert not digits_on(page)  # never on the list
    shoot(page, "cases-1280")
    case_id = mine.get_attribute("data-case")
    follow(page, f"a[href='/cases/{case_id}']")
    assert page.locator(".phone-number").inner_text() == PHONE
    assert "Rất không hài lòng" in page.locator(".case-facts").inner_text() or \
        "Chưa hài lòng" in page.locator(".case-facts").inner_text()

    # Resolving before anything else is refused (no such step yet).
    assert page.locator("button[data-status='resolved']").count() == 0
    page.select_option("#owner", label="Tài khoản leader (Lãnh đạo)")
    follow(page, "#assign-form button")
    assert "Đã giao phản ánh." in page.locator(".alert.ok").inner_text()
    assert page.locator(".case-facts").get_attribute("data-status") == "assigned"
    follow(page, "button[data-status='contacted']")
    assert page.locator(".case-facts").get_attribute("data-status") == "contacted"
    page.fill("#note", "Đã gọi điện, người dân được giải thích về thời gian chờ.")
    follow(page, "#note-form button")
    follow(page, "button[data-status='resolved']")
    assert page.locator(".alert.error").inner_text() == "Cần ghi kết quả trước khi chuyển sang «Đã xong»."
    assert page.locator(".phone-number").inner_text() == PHONE  # still open: still shown
    page.select_option("#outcome", "explained")
    follow(page, "#outcome-form button")
    shoot(page, "case-1280")
    follow(page, "button[data-status='resolved']")
    assert page.locator(".case-facts").get_attribute("data-status") == "resolved"
    assert page.locator(".case-outcome").inner_text() == "Đã giải thích cho người dân"
    history = page.locator(".case-history").inner_text()
    for step in ("Mở phản ánh", "Giao cho leader", "«Đã giao»", "«Đã liên hệ»", "Ghi chú", "«Đã xong»"):
        assert step in history, step
    assert page.locator("#assign-form").count() == 0  # nothing left to do
    shoot(page, "case-resolved-1280")

    # Resolved: the number is on no page, for nobody.
    pages = ["/board", "/cases", "/cases?view=all", "/cases?view=resolved", f"/cases/{case_id}"]
    for path in pages:
        page.goto(f"{commune.url}{path}")
        assert not digits_on(page), path
    assert page.locator(".phone-number").count() == 0
    assert page.locator("nav.menu a[href='/cases'] .nav-count").inner_text() == "1"

    # The officer sees the case, its status and outcome; no notes, no number, no owner.
    officer = api_login(commune.url, "officer", PASSWORDS[Role.OFFICER])
    listing = officer.get(f"{commune.url}/cases?view=all", timeout=10)
    assert listing.status_code == 200 and f'data-case="{case_id}"' in listing.text
    assert names[officers[1]] not in listing.text  # another officer's case is not listed
    detail = officer.get(f"{commune.url}/cases/{case_id}", timeout=10)
    assert detail.status_code == 200 and "Đã giải thích cho người dân" in detail.text
    assert "Đã gọi điện" not in detail.text and PHONE[1:] not in detail.text and "Xin gọi lại" not in detail.text


def test_an_officer_sees_their_case_but_never_the_number(followed, browser):
    commune, officers, names = followed
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        login_as(phone, commune.url, Role.OFFICER)
        assert phone.locator("nav.menu a[href='/cases'] .nav-count").count() == 0  # the badge is the leaders'
        phone.goto(f"{commune.url}/cases")
        rows = phone.locator("table.cases-list tbody tr")
        assert rows.count() == 1 and not digits_on(phone)
        shoot(phone, "cases-officer-390")
        case_id = rows.first.get_attribute("data-case")
        phone.goto(f"{commune.url}/cases/{case_id}")
        assert phone.locator(".case-facts").get_attribute("data-status") == "new"
        assert not digits_on(phone) and phone.locator("#assign-form").count() == 0
        assert phone.locator(".case-history").count() == 0
        shoot(phone, "case-officer-390")
        # Another officer's case: 403; acting: 403.
        leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
        chunks = leader.get(f"{commune.url}/cases", timeout=10).text.split('data-case="')[1:]
        ids = {chunk.split('"')[0] for chunk in chunks}
        foreign = (ids - {case_id}).pop()
        assert phone.goto(f"{commune.url}/cases/{foreign}").status == 403
        # The leader's own view of the same page on a phone, number shown while open.
        phone.context.clear_cookies()
        login_as(phone, commune.url, Role.LEADER)
        phone.goto(f"{commune.url}/cases")
        shoot(phone, "cases-leader-390")
        phone.goto(f"{commune.url}/cases/{case_id}")
        assert phone.locator(".phone-number").inner_text() == PHONE
        shoot(phone, "case-leader-390")
    finally:
        context.close()


def test_anonymous_visitors_log_in_and_the_observer_is_refused(followed, page):
    commune, _officers, _names = followed
    for path in ("/cases", "/cases/1"):
        answer = requests.get(f"{commune.url}{path}", timeout=10, allow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    login_as(page, commune.url, Role.OBSERVER)
    assert page.locator("nav.menu a[href='/cases']").count() == 0
    assert page.locator(".new-cases").count() == 0  # the observer's board lists no case
    for path in ("/cases", "/cases/1"):
        assert page.goto(f"{commune.url}{path}").status == 403
    observer = api_login(commune.url, "observer", PASSWORDS[Role.OBSERVER])
    token = observer.get(f"{commune.url}/home", timeout=10).text.split('name="csrf" value="')[1].split('"')[0]
    answer = observer.post(f"{commune.url}/cases/1/status", data={"csrf": token, "status": "assigned"},
                           timeout=10, allow_redirects=False)
    assert answer.status_code == 403
    # A leader's post without the session's token changes nothing.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    answer = leader.post(f"{commune.url}/cases/1/status", data={"status": "assigned"}, timeout=10,
                         allow_redirects=False)
    assert answer.status_code == 403


# -- comments and cases, overdue, the number's audit ------------------------------------------


def cases_about(commune) -> dict[str | None, dict]:
    """The stored cases by the officer they are about (None: a suggestion's)."""
    with commune.engine.begin() as conn:
        return {row["officer_id"]: dict(row) for row in conn.execute(select(tables.cases)).mappings()}


def comment_on(commune, rating_uuid: str, text: str) -> requests.Response:
    """What the citizen's phone does with the QR code: open the rating's form, send it."""
    with commune.engine.begin() as conn:
        token = stored_comments.rating_for_comment(conn, rating_uuid)["comment_token"]
    http = requests.Session()
    form = http.get(f"{commune.url}/c/{rating_uuid}?t={token}", timeout=10)
    return http.post(f"{commune.url}/c/{rating_uuid}", timeout=10, allow_redirects=False,
                     data={"t": token, "csrf": form_token(form.text), "text": text})


def suggest(commune, **fields) -> requests.Response:
    """Send the suggestion box's form from a phone."""
    http = requests.Session()
    form = http.get(f"{commune.url}/gop-y", timeout=10)
    return http.post(f"{commune.url}/gop-y", timeout=10, allow_redirects=False,
                     data={"csrf": form_token(form.text), **fields})


def row_of(html: str, comment_id: int) -> str:
    """One comment's row of the comments page."""
    return html.split(f'id="comment-{comment_id}"')[1].split("</tr>")[0]


def fits(page) -> bool:
    """Nothing on the page is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_comment_and_its_case_lead_to_each_other(followed, page):
    commune, officers, _names = followed
    case = cases_about(commune)[officers[0]]
    assert comment_on(commune, case["rating_uuid"], COMMENT).status_code == 303
    assert suggest(commune, text="Nên có thêm ghế chờ.").status_code == 303  # no call-back: no case
    with commune.engine.begin() as conn:
        ids = {row["text"]: row["id"] for row in conn.execute(select(tables.comments)).mappings()}

    # The leader reads what the citizen wrote on the case's page, beside the number.
    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/cases/{case['id']}")
    said = page.locator(".case-facts .case-comment")
    assert COMMENT in said.inner_text() and "Ý kiến người dân gửi qua mã QR" in said.inner_text()
    assert page.locator(".phone-number").inner_text() == PHONE
    assert "Người dân gửi ý kiến" in page.locator(".case-history").inner_text()
    shoot(page, "case-comment-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    assert fits(page) and said.is_visible()
    shoot(page, "case-comment-390")

    # The comments page links each comment to its case, with the case's status.
    page.goto(f"{commune.url}/comments")
    link = page.locator(f"#comment-{ids[COMMENT]} .comment-case")
    assert link.locator("a").get_attribute("href") == f"/cases/{case['id']}"
    assert "Phản ánh số" in link.inner_text() and "Mới" in link.inner_text()
    assert fits(page)
    shoot(page, "comments-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    shoot(page, "comments-1280")
    page.goto(f"{commune.url}/comments?kind=suggestion")
    alone = page.locator(f"#comment-{ids['Nên có thêm ghế chờ.']} .comment-case")
    assert alone.inner_text().strip() == "Không có" and alone.locator("a").count() == 0

    # The officer it is about, and an admin it is not given to: the case without the comment.
    for role in (Role.OFFICER, Role.ADMIN):
        other = api_login(commune.url, role.value, PASSWORDS[role])
        seen = other.get(f"{commune.url}/cases/{case['id']}", timeout=10)
        assert seen.status_code == 200 and COMMENT not in seen.text and "citizen-comment" not in seen.text, role
        assert not digits_on_text(seen.text), role

    # Erased at the citizen's request: both pages say so, and still lead to each other.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    token = form_token(leader.get(f"{commune.url}/comments", timeout=10).text)
    assert leader.post(f"{commune.url}/comments/{ids[COMMENT]}/erase", data={"csrf": token},
                       timeout=10).status_code == 200
    seen = leader.get(f"{commune.url}/cases/{case['id']}", timeout=10)
    assert seen.status_code == 200 and COMMENT not in seen.text
    assert "Nội dung ý kiến đã được xóa ngày" in seen.text
    listed = row_of(leader.get(f"{commune.url}/comments", timeout=10).text, ids[COMMENT])
    assert "Đã xóa ngày" in listed and f'href="/cases/{case["id"]}"' in listed


def digits_on_text(html: str) -> bool:
    """Whether the citizen's number (with or without its 0, spaced or not) is in some HTML."""
    return PHONE[1:] in html.replace(" ", "").replace(".", "")


def test_overdue_cases_stand_out_and_a_case_not_yet_due_does_not(followed, page):
    commune, officers, _names = followed
    # Monday 9 March: a suggestion asking for a call-back opens a case due on Wednesday 11 March.
    commune.clock.now = datetime(2026, 3, 9, 10, 0, tzinfo=HANOI).astimezone(UTC)
    assert suggest(commune, text=SUGGESTION, name="Lê Văn Tâm", phone=PHONE, consent="1").status_code == 303
    # Tuesday 10 March: the tablet's two cases of Thursday 5 March (due Monday 9) are overdue.
    commune.clock.now = datetime(2026, 3, 10, 9, 0, tzinfo=HANOI).astimezone(UTC)
    cases = cases_about(commune)
    late, on_time = [cases[o]["id"] for o in officers[:2]], cases[None]["id"]
    assert cases[None]["due_on"] == "2026-03-11"

    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/cases")
    rows = page.locator("table.cases-list tbody tr")
    assert rows.count() == 3
    assert sorted(int(i) for i in page.locator("tr.overdue").evaluate_all("rs => rs.map(r => r.dataset.case)")) \
        == sorted(late)
    fresh = page.locator(f"tr[data-case='{on_time}']")
    assert "overdue" not in fresh.get_attribute("class") and fresh.locator(".badge.bad").count() == 0
    for case_id in late:
        assert page.locator(f"tr[data-case='{case_id}'] .case-due .badge.bad").inner_text() == "Quá hạn"

    def shade(case_id: int) -> str:
        return page.locator(f"tr[data-case='{case_id}'] td.case-due").evaluate(
            "e => getComputedStyle(e).backgroundColor")

    assert shade(late[0]) != shade(on_time)  # seen, not only marked
    assert page.locator(".case-view.has-overdue .case-view-count").inner_text() == "2"
    shoot(page, "cases-overdue-1280")

    page.goto(f"{commune.url}/cases/{late[0]}")
    assert page.locator(".case-facts.overdue").count() == 1
    assert page.locator("h1 .badge.bad").inner_text() == "Quá hạn"
    edge = page.locator(".case-facts").evaluate("e => getComputedStyle(e).borderLeftWidth")
    shoot(page, "case-overdue-1280")
    page.goto(f"{commune.url}/cases/{on_time}")
    assert page.locator(".case-facts.overdue").count() == 0 and page.locator("h1 .badge").count() == 0
    assert page.locator(".case-facts").evaluate("e => getComputedStyle(e).borderLeftWidth") != edge
    # The suggestion's text and signature are on its case, for the leader.
    said = page.locator(".case-comment").inner_text()
    assert SUGGESTION in said and "Người gửi: Lê Văn Tâm" in said and "hòm thư góp ý điện tử" in said
    shoot(page, "case-suggestion-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{commune.url}/cases")
    assert page.locator("tr.overdue").count() == 2 and fits(page)
    shoot(page, "cases-overdue-390")
    page.goto(f"{commune.url}/cases/{late[0]}")
    assert page.locator(".case-facts.overdue").count() == 1 and fits(page)
    shoot(page, "case-overdue-390")


def test_showing_the_citizens_number_is_audited_without_the_number(followed):
    commune, officers, _names = followed
    cases = cases_about(commune)
    called, quiet = cases[officers[0]]["id"], cases[officers[1]]["id"]

    def views() -> list:
        entries, _ = AccountBook(commune.engine).audit_entries(per_page=200)
        return [(e.actor, e.target, e.detail) for e in entries if e.action == "callback.view"]

    # Pages that show no number leave no entry: the list, a case without a call-back,
    # the officer's own case, the case seen by an admin it is not given to.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    assert leader.get(f"{commune.url}/cases", timeout=10).status_code == 200
    assert leader.get(f"{commune.url}/cases/{quiet}", timeout=10).status_code == 200
    for role in (Role.OFFICER, Role.ADMIN):
        other = api_login(commune.url, role.value, PASSWORDS[role])
        seen = other.get(f"{commune.url}/cases/{called}", timeout=10)
        assert seen.status_code == 200 and not digits_on_text(seen.text), role
    assert views() == []

    # The leader opens the open case with a call-back: the number is shown, and that is audited.
    shown = leader.get(f"{commune.url}/cases/{called}", timeout=10)
    assert PHONE in shown.text
    assert views() == [("leader", f"case {called}", "")]

    # The admin's audit page says who saw which case's number, never the number.
    admin = api_login(commune.url, "admin", PASSWORDS[Role.ADMIN])
    audit = admin.get(f"{commune.url}/audit", timeout=10)
    assert audit.status_code == 200
    row = re.search(r'<tr class="audit-callback-view">(.*?)</tr>', audit.text, re.S)
    assert row and "Xem số điện thoại gọi lại" in row.group(1) and f"case {called}" in row.group(1)
    assert not digits_on_text(audit.text)
