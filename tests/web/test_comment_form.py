"""The citizens' comment form behind the tablet's QR code and the suggestion
box, on a phone (390 px wide, JavaScript off), against ratings made on a real
tablet and uploaded to a real server: one comment per rating, the refusals
(wrong token, unknown rating, expired, a flood from one address on the
suggestion box and on a rating's form, a stale form) with clear pages and
their status, the size of the page, the leaders' list (and nobody else's)
without a phone number, the hand-off to the follow-up cases, erasure on
request and after the retention period.

Screenshots go to the folder named by ``HAILONG_SHOTS`` (the test's own
temporary folder otherwise)."""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server.__main__ import main as server_main
from server.accounts import AccountBook, Role
from server.comments import (
    COMMENT_LISTENERS,
    POSTS_PER_HOUR,
    CommentError,
    callback_phone,
    comment,
    comments_page,
    erase_comment,
    erase_expired,
    normalise_phone,
)
from server.roster import RosterStore
from server.settings import save_setting
from server.store import tables
from tests.sync_support import Commune, ManualClock, Tablet
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, make_accounts

pytestmark = pytest.mark.xdist_group("web")

PHONE = "0912345678"
PHONE_TYPED = "0912 345 678"
TEXT = "Cán bộ hướng dẫn tận tình, nhưng phải chờ khá lâu ở quầy."
PHONE_WIDTH = {"width": 390, "height": 844}
LEVEL_WORDS = {"very_satisfied": "Rất hài lòng", "satisfied": "Hài lòng", "neutral": "Bình thường",
               "dissatisfied": "Chưa hài lòng", "very_dissatisfied": "Rất không hài lòng"}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HAILONG_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def heard():
    """The comment ids handed to the follow-up cases, through the listeners' registry."""
    calls: list[int] = []

    def listener(_engine, comment_id: int) -> None:
        calls.append(comment_id)

    COMMENT_LISTENERS.append(listener)
    yield calls
    COMMENT_LISTENERS.remove(listener)


@pytest.fixture
def site(tmp_path):
    """A commune on a clock the test moves, a paired tablet with the roster,
    four ratings made on it (scores 1, 2, 3, 1 on its 3-level scale) and
    uploaded, and an account of every role. Gives (commune, tablet, ratings, clock)."""
    clock = ManualClock()
    with Commune(tmp_path, clock=clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        ratings = tablet.rate(4)
        assert [r.score for r in ratings] == [1, 2, 3, 1]
        assert tablet.uploader().run_once().pending == 0
        make_accounts(commune.engine, ratings[0].officer_id)
        yield commune, tablet, ratings, clock
        tablet.close()


def qr_address(tablet: Tablet, rating) -> str:
    """What the tablet's thank-you screen puts in its QR code."""
    return tablet.desk.comment_url(rating)


def form_of(http: requests.Session, url: str) -> tuple[requests.Response, str]:
    answer = http.get(url, timeout=10)
    found = re.search(r'name="csrf" value="([^"]*)"', answer.text)
    return answer, found.group(1) if found else ""


def send(http: requests.Session, commune: Commune, rating, **fields) -> requests.Response:
    """Open a rating's form as the QR code does and post it."""
    _, csrf = form_of(http, f"{commune.url}/c/{rating.uuid}?t={rating.comment_token}")
    return post_form(http, commune, rating, **{"csrf": csrf, **fields})


def post_form(http: requests.Session, commune: Commune, rating, **fields) -> requests.Response:
    """Post a rating's form (``csrf`` from a form opened before)."""
    data = {"t": rating.comment_token, **fields}
    return http.post(f"{commune.url}/c/{rating.uuid}", data=data, timeout=10, allow_redirects=False)


def stored_comments(commune: Commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.comments)).mappings()]


def stored_cases(commune: Commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.cases)).mappings()]


def phone_context(browser):
    context = browser.new_context(viewport=PHONE_WIDTH, locale="vi-VN", java_script_enabled=False,
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    return context


# -- on a phone ----------------------------------------------------------------------


def test_a_citizen_comments_from_the_qr_code_on_a_phone_without_javascript(site, browser, shots, heard, caplog):
    caplog.set_level(logging.DEBUG)
    commune, tablet, ratings, _ = site
    rating = ratings[0]  # the lowest level of the scale
    names = {o.id: o.name for o in tablet.settings.active_officers}
    context = phone_context(browser)
    phone = context.new_page()
    try:
        address = qr_address(tablet, rating)
        assert address == f"{commune.url}/c/{rating.uuid}?t={rating.comment_token}"
        answer = phone.goto(address)
        assert answer.status == 200
        body = phone.locator("main").inner_text()
        assert "UBND phường Hòa Bình" in phone.locator("header").inner_text()
        assert names[rating.officer_id] in body
        assert LEVEL_WORDS[rating.level] in body
        assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", phone.locator(".when").inner_text())
        assert "lãnh đạo UBND phường Hòa Bình" in phone.locator(".consent").inner_text()
        assert "365 ngày" in phone.locator(".consent").inner_text()
        # Large text, and nothing wider than the phone.
        assert phone.locator("textarea").bounding_box()["width"] <= 390
        assert float(phone.locator("textarea").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 18
        phone.screenshot(path=str(shots / "01-comment-form.png"), full_page=True)

        # A number without consent is refused, and what was typed stays.
        phone.fill("#text", TEXT)
        phone.fill("#phone", PHONE_TYPED)
        with phone.expect_navigation():
            phone.click("button[type=submit]")
        assert "đánh dấu vào ô đồng ý" in phone.locator(".error").inner_text()
        assert phone.input_value("#text") == TEXT
        phone.screenshot(path=str(shots / "02-no-consent.png"), full_page=True)
        assert stored_comments(commune) == []

        phone.check("input[name=consent]")
        with phone.expect_navigation():
            phone.click("button[type=submit]")
        assert "Cảm ơn bạn" in phone.locator("h1").inner_text()
        phone.screenshot(path=str(shots / "03-thanks.png"), full_page=True)

        # Scanning again: received, the text not shown back.
        answer = phone.goto(address)
        assert answer.status == 200
        assert "Đã nhận được ý kiến" in phone.locator("h1").inner_text()
        assert TEXT not in phone.content() and "form" not in phone.locator("main").inner_html()
        phone.screenshot(path=str(shots / "04-received.png"), full_page=True)
    finally:
        context.close()

    [kept] = stored_comments(commune)
    assert (kept["kind"], kept["rating_uuid"], kept["text"], kept["phone"], kept["consent"]) == (
        "rating", rating.uuid, TEXT, PHONE, True)
    assert "127.0.0.1" not in kept["address_hash"] and len(kept["address_hash"]) == 64
    assert callback_phone(commune.engine, kept["id"]) == PHONE
    assert heard == [kept["id"]]  # handed to the follow-up cases

    # The leader sees it, at a phone's width too; no phone number anywhere on the page.
    context = phone_context(browser)
    context_page = context.new_page()
    try:
        # The dashboard needs its script-free login only.
        login_as(context_page, commune.url, Role.LEADER)
        context_page.goto(f"{commune.url}/comments")
        row = context_page.locator(f"#comment-{kept['id']}")
        assert TEXT in row.inner_text()
        assert names[rating.officer_id] in row.inner_text()
        assert LEVEL_WORDS[rating.level] in row.inner_text()
        assert "Có yêu cầu gọi lại" in row.inner_text()
        html = context_page.content()
        context_page.screenshot(path=str(shots / "05-leader-comments.png"), full_page=True)
    finally:
        context.close()
    digits = re.sub(r"\D", "", html)
    assert PHONE not in digits and PHONE[1:] not in digits
    assert PHONE not in caplog.text and PHONE_TYPED not in caplog.text


def test_the_suggestion_box_on_a_phone(site, browser, shots, heard):
    commune, _, _, _ = site
    context = phone_context(browser)
    phone = context.new_page()
    try:
        assert phone.goto(f"{commune.url}/gop-y").status == 200
        assert "Hòm thư góp ý điện tử" in phone.locator("h1").inner_text()
        phone.screenshot(path=str(shots / "06-suggestion-box.png"), full_page=True)
        phone.fill("#text", "Đề nghị xã bố trí thêm ghế chờ ở bộ phận một cửa.")
        phone.fill("#name", "Trần Văn Bình")
        with phone.expect_navigation():
            phone.click("button[type=submit]")
        assert "Cảm ơn bạn" in phone.locator("h1").inner_text()
        phone.screenshot(path=str(shots / "07-suggestion-thanks.png"), full_page=True)
    finally:
        context.close()
    [kept] = stored_comments(commune)
    assert (kept["kind"], kept["name"], kept["phone"], kept["rating_uuid"]) == ("suggestion", "Trần Văn Bình",
                                                                                 None, None)
    assert heard == []  # no call-back asked for: nothing to follow up
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    listed = leader.get(f"{commune.url}/comments?kind=suggestion", timeout=10)
    assert "Đề nghị xã bố trí thêm ghế chờ" in listed.text and "Trần Văn Bình" in listed.text


def test_the_page_is_small_and_needs_no_script(site):
    commune, tablet, ratings, _ = site
    for url in (qr_address(tablet, ratings[1]), f"{commune.url}/gop-y"):
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200
        assert "<script" not in answer.text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', answer.text)
        assert assets == ["/static/public.css"]
        size = len(answer.content) + sum(len(requests.get(commune.url + a, timeout=10).content) for a in assets)
        assert size <= 50 * 1024, size


# -- refusals -------------------------------------------------------------------------


def test_wrong_unknown_and_expired_links_get_clear_pages(site):
    commune, tablet, ratings, clock = site
    rating = ratings[1]
    wrong = requests.get(f"{commune.url}/c/{rating.uuid}?t=not-the-token", timeout=10)
    assert wrong.status_code == 403 and "Đường dẫn không đúng" in wrong.text
    missing = requests.get(f"{commune.url}/c/{rating.uuid}", timeout=10)
    assert missing.status_code == 403
    other = requests.get(f"{commune.url}/c/{ratings[2].uuid}?t={rating.comment_token}", timeout=10)
    assert other.status_code == 403  # one rating's token does not open another's form
    unknown = requests.get(f"{commune.url}/c/00000000-0000-4000-8000-000000000000?t=x", timeout=10)
    assert unknown.status_code == 404 and "xin thử lại sau ít phút" in unknown.text
    garbage = requests.get(f"{commune.url}/c/..%2F..%2Fetc?t=x", timeout=10)
    assert garbage.status_code == 404

    # A rating the tablet has not uploaded yet: "not yet", then the form once it arrives.
    [later] = tablet.rate(1)
    early = requests.get(qr_address(tablet, later), timeout=10)
    assert early.status_code == 404 and "chưa nhận được lần đánh giá này" in early.text.lower()
    assert tablet.uploader().run_once().pending == 0
    assert requests.get(qr_address(tablet, later), timeout=10).status_code == 200

    # Seven days (the default) after the rating the form is closed, for a visit and a post.
    http = requests.Session()
    _, csrf = form_of(http, qr_address(tablet, rating))
    clock.advance(7 * 24 * 3600 + 60)
    expired = http.get(qr_address(tablet, rating), timeout=10)
    assert expired.status_code == 410 and "Đã hết hạn gửi ý kiến" in expired.text
    posted = http.post(f"{commune.url}/c/{rating.uuid}", timeout=10, allow_redirects=False,
                       data={"csrf": csrf, "t": rating.comment_token, "text": TEXT})
    assert posted.status_code == 410
    # The setting opens it longer.
    save_setting(commune.engine, "comment_days", 30)
    assert http.get(qr_address(tablet, rating), timeout=10).status_code == 200
    assert stored_comments(commune) == []


def test_one_comment_per_rating_and_the_form_must_come_from_its_page(site, heard):
    commune, tablet, ratings, _ = site
    http = requests.Session()
    # The form opened twice (two tabs), both sent: the second is refused.
    _, csrf = form_of(http, qr_address(tablet, ratings[2]))
    first = post_form(http, commune, ratings[2], csrf=csrf, text="Rất tốt, cảm ơn chị.")
    assert first.status_code == 303
    # Every comment on a rating goes to the follow-up; a good rating's, without a call-back, opens nothing.
    good = stored_comments(commune)[0]["id"]
    assert heard == [good] and all(c["comment_id"] != good for c in stored_cases(commune))
    assert len(stored_cases(commune)) == 2  # the lowest ratings' own, opened as they arrived
    again = post_form(http, commune, ratings[2], csrf=csrf, text="Một ý kiến nữa")
    assert again.status_code == 409 and "Đã nhận được ý kiến" in again.text and "Một ý kiến nữa" not in again.text
    assert [c["text"] for c in stored_comments(commune)] == ["Rất tốt, cảm ơn chị."]

    # Without the form's cookie (another site posting), or with a wrong token: refused.
    stranger = requests.post(f"{commune.url}/c/{ratings[1].uuid}", timeout=10, allow_redirects=False,
                             data={"csrf": "guess", "t": ratings[1].comment_token, "text": "x"})
    assert stranger.status_code == 403 and "Biểu mẫu đã cũ" in stranger.text
    forged = send(http, commune, ratings[1], text="x", csrf="guess")
    assert forged.status_code == 403
    # Input to correct: a bad number, nothing at all, too long.
    for fields, words in (({"text": "x", "phone": "12345", "consent": "1"}, "Số điện thoại chưa đúng"),
                          ({"text": "   "}, "Vui lòng viết ý kiến"),
                          ({"text": "a" * 1001}, "dài quá 1000 ký tự")):
        refused = send(http, commune, ratings[1], **fields)
        assert refused.status_code == 422 and words in refused.text, fields
    assert len(stored_comments(commune)) == 1

    # A comment on a lowest-level rating joins its case, even without a phone number.
    assert send(http, commune, ratings[3], text="Chờ quá lâu.").status_code == 303
    low = max(c["id"] for c in stored_comments(commune))
    assert heard == [good, low]
    assert {c["rating_uuid"]: c["comment_id"] for c in stored_cases(commune)}[ratings[3].uuid] == low


def test_a_flood_from_one_address_is_refused_for_an_hour(site):
    commune, _, _, clock = site
    http = requests.Session()
    _, csrf = form_of(http, f"{commune.url}/gop-y")
    answers = [http.post(f"{commune.url}/gop-y", timeout=10, allow_redirects=False,
                         data={"csrf": csrf, "text": f"Góp ý số {i}"}).status_code for i in range(POSTS_PER_HOUR + 2)]
    assert answers == [303] * POSTS_PER_HOUR + [429, 429]
    refused = http.post(f"{commune.url}/gop-y", timeout=10, data={"csrf": csrf, "text": "nữa"})
    assert refused.status_code == 429 and "Gửi quá nhiều lần" in refused.text
    assert refused.headers["Retry-After"] == "3600"
    assert len(stored_comments(commune)) == POSTS_PER_HOUR
    clock.advance(3601)
    assert http.post(f"{commune.url}/gop-y", timeout=10, allow_redirects=False,
                     data={"csrf": csrf, "text": "Sau một giờ"}).status_code == 303


def test_a_flood_of_comments_from_one_address_is_refused_and_the_refused_one_is_not_kept(site):
    commune, tablet, ratings, clock = site
    # One rating (one form) per post, so that only the limit can refuse the last.
    every = ratings + tablet.rate(POSTS_PER_HOUR + 1 - len(ratings))
    assert tablet.uploader().run_once().pending == 0
    http = requests.Session()
    answers = [send(http, commune, r, text=f"Ý kiến số {i}").status_code for i, r in enumerate(every[:-1])]
    assert answers == [303] * POSTS_PER_HOUR
    last = every[-1]
    refused = send(http, commune, last, text="Ý kiến bị từ chối")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "Gửi quá nhiều lần" in refused.text and "Vui lòng thử lại sau" in refused.text
    assert "Ý kiến bị từ chối" not in refused.text and "<form" not in refused.text
    kept = stored_comments(commune)
    assert len(kept) == POSTS_PER_HOUR and last.uuid not in {c["rating_uuid"] for c in kept}
    # Nothing was taken: the citizen's form is still open, and takes the comment an hour later.
    again = requests.get(qr_address(tablet, last), timeout=10)
    assert again.status_code == 200 and 'name="text"' in again.text
    clock.advance(3601)
    assert send(http, commune, last, text="Ý kiến sau một giờ").status_code == 303
    assert [c["text"] for c in stored_comments(commune) if c["rating_uuid"] == last.uuid] == ["Ý kiến sau một giờ"]


# -- who sees comments; erasure -------------------------------------------------------------


def test_only_leaders_see_comments_and_never_a_phone_number(site):
    commune, _, ratings, _ = site
    http = requests.Session()
    assert send(http, commune, ratings[0], text=TEXT, phone=PHONE, consent="1").status_code == 303
    for role in (Role.OFFICER, Role.OBSERVER, Role.ADMIN):
        other = api_login(commune.url, role.value, PASSWORDS[role])
        assert other.get(f"{commune.url}/comments", timeout=10).status_code == 403, role
        assert "/comments" not in other.get(f"{commune.url}/home", timeout=10).text, role
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    listed = leader.get(f"{commune.url}/comments", timeout=10)
    assert listed.status_code == 200 and TEXT in listed.text
    assert PHONE not in re.sub(r"\D", "", listed.text)
    assert 'href="/comments"' in leader.get(f"{commune.url}/home", timeout=10).text
    found, total = comments_page(commune.engine, "rating")
    assert total == 1 and found[0].callback_requested and not hasattr(found[0], "phone")


def test_erasure_on_request_and_after_the_retention_period(site):
    commune, tablet, ratings, clock = site
    http = requests.Session()
    assert send(http, commune, ratings[0], text=TEXT, phone=PHONE, consent="1").status_code == 303
    assert send(http, commune, ratings[2], text="Tốt lắm").status_code == 303
    _, csrf = form_of(http, f"{commune.url}/gop-y")
    assert http.post(f"{commune.url}/gop-y", timeout=10, allow_redirects=False,
                     data={"csrf": csrf, "text": "Góp ý cũ", "name": "Lê Thị Hoa"}).status_code == 303
    by_text = {c["text"]: c["id"] for c in stored_comments(commune)}

    # On request, from the leaders' page.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    listed = leader.get(f"{commune.url}/comments", timeout=10)
    token = re.search(r'name="csrf" value="([^"]*)"', listed.text).group(1)
    erased = leader.post(f"{commune.url}/comments/{by_text[TEXT]}/erase", data={"csrf": token}, timeout=10)
    assert erased.status_code == 200 and TEXT not in erased.text and "Đã xóa" in erased.text
    gone = comment(commune.engine, by_text[TEXT])
    assert gone.text is None and gone.erased_at and gone.callback_requested
    assert callback_phone(commune.engine, by_text[TEXT]) is None
    assert not erase_comment(commune.engine, by_text[TEXT], "leader")  # nothing left to erase
    # The rating still counts as commented on.
    assert "Đã nhận được ý kiến" in http.get(qr_address(tablet, ratings[0]), timeout=10).text

    # After the retention period (365 days by default), by the command.
    save_setting(commune.engine, "comment_retention_days", 30)
    assert erase_expired(commune.engine, clock() + timedelta(days=29)) == 0
    assert server_main(["erase-expired", "--db", str(commune.db_path)]) == 0  # now: nothing is 30 days old
    assert comment(commune.engine, by_text["Tốt lắm"]).text == "Tốt lắm"
    assert erase_expired(commune.engine, clock() + timedelta(days=31)) == 2
    assert all(c["text"] is None and c["phone"] is None and c["name"] is None for c in stored_comments(commune))

    entries, _ = AccountBook(commune.engine).audit_entries()
    actions = [(e.action, e.actor, e.detail) for e in entries if e.action.startswith("comment.")]
    assert ("comment.erase", "leader", "") in actions
    assert ("comment.erase_expired", None, "2 comments older than 30 days") in actions
    assert not any(PHONE in (e.detail or "") or "Tốt lắm" in (e.detail or "") for e in entries)


def test_a_failing_follow_up_is_logged_without_the_phone_number(site, caplog):
    commune, _, ratings, _ = site

    def broken(_engine, _comment_id: int) -> None:
        raise RuntimeError("the cases are down")

    COMMENT_LISTENERS.append(broken)
    try:
        with caplog.at_level(logging.DEBUG):
            answer = send(requests.Session(), commune, ratings[0], text=TEXT, phone=PHONE_TYPED, consent="1")
    finally:
        COMMENT_LISTENERS.remove(broken)
    assert answer.status_code == 303  # the citizen's comment is kept
    assert "a follow-up of comment" in caplog.text
    assert PHONE not in caplog.text and PHONE_TYPED not in caplog.text


@pytest.mark.parametrize(("typed", "kept"), [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("+84 912 345 678", "0912345678"),
    ("84912345678", "0912345678"), ("0243.825.1234", "02438251234"), ("", None),
])
def test_vietnamese_numbers_are_read(typed: str, kept: str | None) -> None:
    assert normalise_phone(typed) == kept


@pytest.mark.parametrize("typed", ["12345", "0112345678", "091234567", "09123456789", "0912abc678",
                                   "０９１２３４５６７８"])
def test_other_numbers_are_refused(typed: str) -> None:
    with pytest.raises(CommentError):
        normalise_phone(typed)
