"""The roster on the web, driven in a real headless Chromium at desktop and
phone width: the admin creates the roster and adds an officer with a
Vietnamese name, a PIN and a cropped photo, and a paired tablet gets them at
its next roster sync, as do a counter added, renamed and removed and an
officer changed and stopped; the leader reads without forms; other roles get 403;
bad values are refused in Vietnamese with what was typed kept; CSRF; and
the audit log has every change and never a PIN."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import requests
from PIL import Image

from kiosk.link.credentials import load_credentials, pin_key
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink
from kiosk.roster import settings_with_roster
from server.accounts import AccountBook, Role
from server.roster import PORTRAIT_SIDE, RosterStore
from sync.pin import verify_pin
from tests.sync_support import roster_file
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token

PHONE = {"width": 390, "height": 844}
NEW_NAME = "Đặng Thị Hồng Nhung"
NEW_TITLE = "Công chức Tư pháp - Hộ tịch"
PIN = "97531"


def red_left_blue_right(tmp_path: Path, width: int = 1200, height: int = 800) -> Path:
    """A picture whose left half is red and right half blue, as a file to upload."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    path = tmp_path / "chan-dung.png"
    image.save(path)
    return path


def roster_sync(tablet, commune) -> RosterSync:
    return RosterSync(roster_directory(tablet.db_path),
                      ServerLink(commune.url, load_credentials(tablet.store.device_secret_path)))


def audit_details(commune) -> list[tuple[str, str, str]]:
    entries, _ = AccountBook(commune.engine).audit_entries(per_page=500)
    return [(e.action, e.target or "", e.detail) for e in entries]


@pytest.fixture(params=["desktop", "phone"])
def sized_page(request, page):
    """The page at desktop width, then at phone width."""
    if request.param == "phone":
        page.set_viewport_size(PHONE)
    return page


def test_an_officer_added_on_the_web_reaches_a_paired_tablet(commune, roles, tablet, sized_page, tmp_path):
    page = sized_page
    RosterStore(commune.engine).import_file(roster_file(tablet))
    sync = roster_sync(tablet, commune)
    assert sync.fetch() is not None

    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/roster")
    assert page.locator("h1").inner_text() == "Danh sách cán bộ, quầy và cài đặt"
    page.click("a[href='/roster/officers/new']")
    page.fill("#officer-name", NEW_NAME)
    page.fill("#officer-title", NEW_TITLE)
    page.select_option("#officer-counter", "quay-2")
    page.fill("#officer-pin", PIN)
    page.fill("#officer-pin-again", PIN)
    page.set_input_files("#officer-photo", str(red_left_blue_right(tmp_path)))
    # Our script shows the picture with the centre square; move it to the left edge with the keyboard.
    page.wait_for_selector("[data-crop-box]:not([hidden])")
    assert page.input_value("[data-crop-left]") == "200" and page.input_value("[data-crop-side]") == "800"
    page.focus("[data-crop-frame]")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowLeft")
    assert page.input_value("[data-crop-left]") == "0"
    page.click("form.roster-form button[type=submit]")
    page.wait_for_load_state()

    assert page.url.endswith("/roster?notice=officer_added#officer-dang-thi-hong-nhung")
    row = page.locator("[data-officer='dang-thi-hong-nhung']")
    assert NEW_NAME in row.inner_text() and "Đã có mã PIN" in row.inner_text() and "Quầy số 2" in row.inner_text()
    thumbnail = row.locator("img.portrait")
    assert page.evaluate("img => img.complete && img.naturalWidth", thumbnail.element_handle()) == PORTRAIT_SIDE

    roster = sync.fetch()
    assert roster is not None
    added = {o["id"]: o for o in roster["officers"]}["dang-thi-hong-nhung"]
    assert added["name"] == NEW_NAME and added["title"] == NEW_TITLE and added["active"] is True
    assert added["counter"] == "quay-2"
    assert settings_with_roster(tablet.settings, roster).officer("dang-thi-hong-nhung").counter == "quay-2"
    # The verifier arrives keyed to this tablet's secret (sync.pin.key_pin_hash).
    assert verify_pin(PIN, added["pin_hash"], pin_key(tablet.store.device_secret_path))
    photo = Path(added["photo_file"]).read_bytes()
    assert hashlib.sha256(photo).hexdigest() == added["photo"]["sha256"]
    picture = Image.open(io.BytesIO(photo))
    assert picture.size == (PORTRAIT_SIDE, PORTRAIT_SIDE)
    # The square chosen on the page (the left edge), not the centre: red where the centre would be blue.
    assert picture.getpixel((300, 256))[0] > 200

    # The audit log holds the change, with who made it, and never the PIN.
    action, target, detail = next(e for e in audit_details(commune) if e[0] == "roster.officer.add")
    assert target == "dang-thi-hong-nhung" and NEW_NAME in detail and ".pin: set" in detail
    assert PIN not in detail and added["pin_hash"] not in detail
    page.goto(f"{commune.url}/audit")
    assert page.locator("tr.audit-roster-officer-add").count() == 1
    assert "Thêm cán bộ" in page.locator("tr.audit-roster-officer-add").inner_text()


def test_the_first_roster_is_made_in_one_form_and_settings_follow(commune, roles, tablet, sized_page):
    page = sized_page
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/roster")
    page.fill("#setup-commune", "UBND xã Tân Phú")
    page.fill("#setup-hotline", "0912 000 111")
    page.fill("#setup-counter", "Quầy số 1 — Một cửa")
    page.fill("#setup-name", "Đỗ Thị Ngọc Ánh")
    page.fill("#setup-title", "Công chức Văn phòng - Thống kê")
    page.click("form.roster-form button[type=submit]")
    page.wait_for_load_state()
    assert "notice=setup" in page.url
    assert page.locator(".brand-commune").inner_text() == "UBND xã Tân Phú"

    page.goto(f"{commune.url}/roster/settings")
    page.check("input[name=scale][value='5']")
    page.fill("#hours-sat", "07:30 - 11:30")
    page.uncheck("input[name=low][value='extra_money']")
    page.click("form.settings-form button[type=submit]")
    page.wait_for_load_state()
    assert "notice=settings" in page.url

    roster = roster_sync(tablet, commune).fetch()
    assert roster["commune"] == {"name": "UBND xã Tân Phú", "hotline": "0912 000 111", "leaders": ""}
    assert roster["counters"] == [{"id": "quay-so-1-mot-cua", "name": "Quầy số 1 — Một cửa"}]
    assert [o["name"] for o in roster["officers"]] == ["Đỗ Thị Ngọc Ánh"]
    assert roster["settings"]["rating"]["scale"] == 5
    assert roster["settings"]["working_hours"]["sat"] == ["07:30-11:30"]
    assert "extra_money" not in roster["reasons"]["low"] and "waited_long" in roster["reasons"]["low"]
    settings = [e for e in audit_details(commune) if e[0] == "roster.settings"]
    assert len(settings) == 1
    assert "rating.scale: — → 5" in settings[0][2] and 'working_hours.sat: — → ["07:30-11:30"]' in settings[0][2]


def test_bad_values_are_refused_with_the_message_and_the_typed_values_kept(commune, roles, tablet, page, tmp_path):
    RosterStore(commune.engine).import_file(roster_file(tablet))
    before = RosterStore(commune.engine).current()
    login_as(page, commune.url, Role.ADMIN)

    page.goto(f"{commune.url}/roster/officers/new")
    page.fill("#officer-title", NEW_TITLE)
    page.fill("#officer-pin", PIN)
    page.fill("#officer-pin-again", PIN)
    page.set_input_files("#officer-photo", str(red_left_blue_right(tmp_path)))
    page.click("form.roster-form button[type=submit]")
    page.wait_for_load_state()
    refusal = page.locator(".roster-refusal").inner_text()
    assert "officers[6].name" in refusal and "không được để trống" in refusal
    assert page.input_value("#officer-title") == NEW_TITLE
    assert page.get_attribute("#officer-name", "aria-invalid") == "true"
    assert page.locator(".photo-kept img").count() == 1  # the photo is kept for the next try
    assert page.input_value("#officer-pin") == ""  # a PIN is never sent back

    page.fill("#officer-name", NEW_NAME)
    page.fill("#officer-pin", "12")
    page.fill("#officer-pin-again", "12")
    page.click("form.roster-form button[type=submit]")
    page.wait_for_load_state()
    assert "pin: mã PIN phải gồm 4 đến 8 chữ số" in page.locator(".roster-refusal").inner_text()
    assert page.input_value("#officer-name") == NEW_NAME
    assert RosterStore(commune.engine).current() == before

    # Without a new PIN, the kept photo goes through.
    page.fill("#officer-pin", "")
    page.fill("#officer-pin-again", "")
    page.click("form.roster-form button[type=submit]")
    page.wait_for_load_state()
    assert "notice=officer_added" in page.url
    assert page.locator("[data-officer='dang-thi-hong-nhung'] img.portrait").count() == 1

    page.goto(f"{commune.url}/roster/settings")
    page.fill("#timeout-rating", "nhanh")
    page.fill("#hours-mon", "7h30-11h30")
    page.click("form.settings-form button[type=submit]")
    page.wait_for_load_state()
    refusal = page.locator(".roster-refusal").inner_text()
    assert refusal.startswith("working_hours.mon[0]:") and "07:30-11:30" in refusal
    assert page.input_value("#hours-mon") == "7h30-11h30" and page.input_value("#timeout-rating") == "nhanh"


def test_the_leader_reads_the_roster_and_other_roles_are_refused(commune, roles, tablet, page):
    RosterStore(commune.engine).import_file(roster_file(tablet))
    login_as(page, commune.url, Role.LEADER)
    assert page.goto(f"{commune.url}/roster").status == 200
    assert "Nguyễn Thị Lan" in page.locator("#officers").inner_text()
    assert page.locator("main form").count() == 0
    assert page.locator("#officers img.portrait").count() == 6
    assert page.goto(f"{commune.url}/roster/officers/nguyen-thi-lan").status == 403
    assert page.goto(f"{commune.url}/roster/settings").status == 403

    for role in (Role.OFFICER, Role.OBSERVER):
        page.context.clear_cookies()
        login_as(page, commune.url, role)
        for path in ("/roster", "/roster/portraits/nguyen-thi-lan", "/roster/officers/new"):
            assert page.goto(f"{commune.url}{path}").status == 403, (role, path)
    page.context.clear_cookies()
    page.goto(f"{commune.url}/roster")
    assert "/login?next=/roster" in page.url


def test_roster_posts_need_the_sessions_csrf_token(commune, roles, tablet):
    RosterStore(commune.engine).import_file(roster_file(tablet))
    before = RosterStore(commune.engine).current()
    admin = api_login(commune.url, "admin", PASSWORDS[Role.ADMIN])
    leader_token = form_token(api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
                              .get(f"{commune.url}/home", timeout=5).text)
    posts = {
        "/roster/commune": {"commune_name": "Xã khác"},
        "/roster/counters": {"counter_name": "Quầy mới"},
        "/roster/counters/quay-1": {"counter_name": "Quầy đổi tên"},
        "/roster/counters/quay-1/remove": {},
        "/roster/officers/new": {"name": "Người Lạ", "title": "Không rõ"},
        "/roster/officers/nguyen-thi-lan": {"name": "Tên Khác", "title": "Khác", "active": "1"},
        "/roster/settings": {"scale": "5"},
        "/roster/setup": {"commune_name": "X"},
    }
    for path, data in posts.items():
        for token in (None, "wrong-token", leader_token):
            sent = data if token is None else {**data, "csrf": token}
            answer = admin.post(f"{commune.url}{path}", data=sent, allow_redirects=False, timeout=5)
            assert answer.status_code == 403, (path, token)
    # The leader, even with its own token, may not change anything.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    token = form_token(leader.get(f"{commune.url}/home", timeout=5).text)
    answer = leader.post(f"{commune.url}/roster/commune", data={"commune_name": "X", "csrf": token},
                         allow_redirects=False, timeout=5)
    assert answer.status_code == 403
    assert RosterStore(commune.engine).current() == before
    assert requests.get(f"{commune.url}/roster/portraits/nguyen-thi-lan", allow_redirects=False,
                        timeout=5).status_code in (303, 401)


def test_the_audit_lines_name_what_changed_and_never_a_pin() -> None:
    from server import roster as editing

    before = editing.new_tree("Xã Tân Phú")
    editing.save_counter(before, None, "Quầy số 1")
    editing.save_officer(before, None, name="Lê Văn Bình", title="Công chức")
    after = editing.tree_of({"commune": before["commune"], "counters": before["counters"],
                             "officers": [dict(o) for o in before["officers"]]})
    editing.save_officer(after, "le-van-binh", name="Lê Văn Bình", title="Công chức Tư pháp", active=False)
    editing.set_officer_pin(after, "le-van-binh", PIN)
    editing.set_reasons(after, "low", ["waited_long", "extra_money"])
    lines = editing.roster_changes((before, {}), (after, {"le-van-binh": (b"jpeg", "image/jpeg")}))
    assert lines == [
        "officers[le-van-binh].active: yes → no",
        "officers[le-van-binh].photo: set",
        "officers[le-van-binh].pin: set",
        'officers[le-van-binh].title: "Công chức" → "Công chức Tư pháp"',
        "reasons.low: — → waited_long, extra_money",
    ]
    assert not any(PIN in line or "scrypt" in line for line in lines)


def test_the_leaders_who_call_back_are_named_on_the_web_and_reach_the_tablet(commune, roles, tablet, page):
    """The consent text on the tablet names who will call the citizen back:
    the admin writes it on the roster page, editing the commune keeps it, and
    the tablet's settings carry it after the next roster sync."""
    RosterStore(commune.engine).import_file(roster_file(tablet))
    sync = roster_sync(tablet, commune)
    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/roster")
    page.fill("#commune-leaders", "  Chủ tịch UBND   Nguyễn Văn An ")
    page.click("#commune form button[type=submit]")
    page.wait_for_load_state()
    assert page.input_value("#commune-leaders") == "Chủ tịch UBND Nguyễn Văn An"
    # A later edit of the hotline alone keeps the leaders' names.
    page.fill("#commune-hotline", "0912 000 222")
    page.click("#commune form button[type=submit]")
    page.wait_for_load_state()
    roster = sync.fetch()
    assert roster["commune"]["leaders"] == "Chủ tịch UBND Nguyễn Văn An"
    assert roster["commune"]["hotline"] == "0912 000 222"
    assert settings_with_roster(tablet.settings, roster).leaders == "Chủ tịch UBND Nguyễn Văn An"
    assert ("roster.commune", "commune") in [(a, t) for a, t, _ in audit_details(commune)]


def test_counters_and_officers_changed_on_the_web_reach_a_paired_tablet(commune, roles, tablet, page):
    """Add a counter, rename it, give an officer a new title and that counter,
    stop another officer, then remove the counter while the first still
    serves at it (allowed: the officer is left without a counter): each
    change reaches the tablet at its next roster fetch and is audited."""
    RosterStore(commune.engine).import_file(roster_file(tablet))
    sync = roster_sync(tablet, commune)
    assert sync.fetch() is not None

    def submit(button: str, notice: str) -> dict:
        page.click(button)
        page.wait_for_load_state()
        assert f"notice={notice}" in page.url
        fetched = sync.fetch()
        assert fetched is not None, notice  # None: the tablet was told nothing changed
        return fetched

    def open_officer(officer_id: str) -> None:
        page.click(f"[data-officer='{officer_id}'] a.officer-edit")
        page.wait_for_load_state()

    login_as(page, commune.url, Role.ADMIN)
    page.goto(f"{commune.url}/roster")
    page.fill("#counter-new", "Quầy số 3 — Đất đai")
    roster = submit("form[action='/roster/counters'] button[type=submit]", "counter_added")
    counter = "quay-so-3-dat-dai"
    assert {"id": counter, "name": "Quầy số 3 — Đất đai"} in roster["counters"]

    page.fill(f"#counter-{counter}", "Quầy số 3 — Đất đai, Xây dựng")
    roster = submit(f"form[action='/roster/counters/{counter}'] button[type=submit]", "counter_renamed")
    assert {c["id"]: c["name"] for c in roster["counters"]}[counter] == "Quầy số 3 — Đất đai, Xây dựng"
    assert page.input_value(f"#counter-{counter}") == "Quầy số 3 — Đất đai, Xây dựng"

    open_officer("tran-van-hung")
    page.fill("#officer-title", "Công chức Địa chính - Nông nghiệp")
    page.select_option("#officer-counter", counter)
    roster = submit("form.roster-form button[type=submit]", "officer_saved")
    row = page.locator("[data-officer='tran-van-hung']").inner_text()
    assert "Công chức Địa chính - Nông nghiệp" in row and "Quầy số 3 — Đất đai, Xây dựng" in row
    hung = settings_with_roster(tablet.settings, roster).officer("tran-van-hung")
    assert (hung.title, hung.counter, hung.active) == ("Công chức Địa chính - Nông nghiệp", counter, True)

    open_officer("le-thi-thu-ha")
    page.uncheck("form.roster-form input[name=active]")
    roster = submit("form.roster-form button[type=submit]", "officer_saved")
    assert "Tạm ngừng" in page.locator("[data-officer='le-thi-thu-ha']").inner_text()
    on_tablet = settings_with_roster(tablet.settings, roster)
    assert on_tablet.officer("le-thi-thu-ha").active is False
    assert "le-thi-thu-ha" not in [o.id for o in on_tablet.active_officers]
    assert "tran-van-hung" in [o.id for o in on_tablet.active_officers]

    # Removing takes two steps; the first says whom it leaves without a counter.
    removal = page.locator(f"[data-counter='{counter}'] details.counter-remove")
    assert not removal.locator("button").is_visible()
    removal.locator("summary").click()
    assert "Trần Văn Hùng" in removal.inner_text()
    roster = submit(f"[data-counter='{counter}'] details.counter-remove button", "counter_removed")
    assert [c["id"] for c in roster["counters"]] == ["quay-1", "quay-2"]
    assert page.locator(f"[data-counter='{counter}']").count() == 0
    assert {o["id"]: o for o in roster["officers"]}["tran-van-hung"]["counter"] is None
    assert settings_with_roster(tablet.settings, roster).officer("tran-van-hung").counter is None

    audited = {(action, target): detail for action, target, detail in audit_details(commune)}
    assert audited[("roster.counter.add", counter)] == f'counters[{counter}]: — → "Quầy số 3 — Đất đai"'
    assert audited[("roster.counter.rename", counter)] == (
        f'counters[{counter}]: "Quầy số 3 — Đất đai" → "Quầy số 3 — Đất đai, Xây dựng"')
    officer_change = audited[("roster.officer.change", "tran-van-hung")].split("; ")
    assert 'officers[tran-van-hung].title: "Công chức Địa chính - Xây dựng" → "Công chức Địa chính - Nông nghiệp"' \
        in officer_change
    assert f'officers[tran-van-hung].counter: — → "{counter}"' in officer_change
    assert audited[("roster.officer.change", "le-thi-thu-ha")] == "officers[le-thi-thu-ha].active: yes → no"
    removal = audited[("roster.counter.remove", counter)].split("; ")
    assert f'counters[{counter}]: "Quầy số 3 — Đất đai, Xây dựng" → —' in removal
    assert f'officers[tran-van-hung].counter: "{counter}" → —' in removal  # its officer lost it
    page.goto(f"{commune.url}/audit")
    for action in ("counter-add", "counter-rename", "counter-remove"):
        assert page.locator(f"tr.audit-roster-{action}", has_text=counter).count() == 1, action
    assert page.locator("tr.audit-roster-officer-change").count() == 2


def test_an_officers_counter_alone_is_a_change_the_audit_names() -> None:
    from server import roster as editing

    before = editing.new_tree("Xã Tân Phú")
    editing.save_counter(before, None, "Quầy số 1")
    editing.save_officer(before, None, name="Lê Văn Bình", title="Công chức")
    after = editing.tree_of({"commune": before["commune"], "counters": before["counters"],
                             "officers": [dict(o) for o in before["officers"]]})
    editing.save_officer(after, "le-van-binh", name="Lê Văn Bình", title="Công chức", counter="quay-so-1")
    assert editing.roster_changes((before, {}), (after, {})) == ['officers[le-van-binh].counter: — → "quay-so-1"']
