"""Ratings given at home: an officer makes a one-time visit on the dashboard
(on a phone), the citizen opens its link on their own phone (390 px wide,
JavaScript off) and rates; the rating is the visit's officer's, marked at
home, counted on the board and the officer's page, opens a case, and its
call-back number is sealed as a tablet's. The link works once; an expired or
unknown one is refused; who may make a visit is checked; the reserved source
is no tablet (not pairable, not among the devices, its chain intact).

Real parts throughout: a commune server on loopback on a SQLite file, the
demo roster on a 5-level scale, headless Chromium. Screenshots go to the
folder named by ``HAILONG_SHOTS`` (the test's own temporary folder otherwise)."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server.accounts import Role
from server.callback_numbers import erase_for_rating, number_for_rating
from server.comments import POSTS_PER_HOUR
from server.evidence import device_checks
from server.export import EXPORT_COLUMNS, export_rows
from server.registry import PairingError
from server.reports import build_report
from server.roster import RosterStore
from server.scores import Period
from server.settings import load_settings
from server.store import tables
from server.store.home_visits import HOME_DEVICE_ID
from server.web.home_visits import qr_svg
from sync.protocol import API_PREFIX
from sync.record import verify_chain
from tests.conftest import load_demo_tree, write_config
from tests.sync_support import Commune, ManualClock, server_records
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token, make_accounts

pytestmark = pytest.mark.xdist_group("web")

OFFICER = "nguyen-thi-lan"  # the officer account's roster entry
OTHER = "tran-van-hung"
PHONE = "0912345678"
PHONE_WIDTH = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HAILONG_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def site(tmp_path):
    """A commune on a clock the test moves, the demo roster on a 5-level
    scale, an account of every role (the officer is ``OFFICER``), and the
    server's public address set to ``localhost`` (pages are asked at
    127.0.0.1, so a link on ``localhost`` comes from ``--public-url``).
    Gives (commune, clock)."""
    clock = ManualClock()
    tree = load_demo_tree()
    tree["rating"]["scale"] = 5
    config = write_config(tmp_path / "roster", tree)
    with Commune(tmp_path, clock=clock) as commune:
        RosterStore(commune.engine).import_file(config)
        make_accounts(commune.engine, OFFICER)
        launch = commune.app.state.launch
        commune.app.state.launch = replace(launch, public_url=commune.url.replace("127.0.0.1", "localhost"))
        yield commune, clock


def phone_context(browser, *, script: bool = False):
    context = browser.new_context(viewport=PHONE_WIDTH, locale="vi-VN", java_script_enabled=script,
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    return context


def make_visit(commune, role: Role = Role.OFFICER, **fields) -> tuple[requests.Session, requests.Response]:
    """Post the visit form as ``role`` (the dossier code given, or one made up)."""
    http = api_login(commune.url, role.value, PASSWORDS[role])
    csrf = form_token(http.get(f"{commune.url}/home-visits", timeout=10).text)
    data = {"csrf": csrf, "dossier_code": "H01.12-2026-0001", **fields}
    return http, http.post(f"{commune.url}/home-visits", data=data, timeout=10, allow_redirects=False)


def link_of(http: requests.Session, commune, answer: requests.Response) -> str:
    """The citizen's link a made visit's page shows."""
    assert answer.status_code == 303, answer.text
    page = http.get(commune.url + answer.headers["location"], timeout=10)
    return re.search(r'class="mono visit-link" href="([^"]+)"', page.text).group(1)


def local_link(commune, link: str) -> str:
    """The link as the test reaches it (the public address is ``localhost``)."""
    return link.replace("localhost", "127.0.0.1")


def rate(commune, link: str, level: str, http: requests.Session | None = None) -> requests.Response:
    http = http or requests.Session()
    csrf = form_token(http.get(local_link(commune, link), timeout=10).text)
    return http.post(local_link(commune, link), data={"csrf": csrf, "level": level}, timeout=10,
                     allow_redirects=False)


def home_records(commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.records).where(
            tables.records.c.device_id == HOME_DEVICE_ID).order_by(tables.records.c.seq)).mappings()]


def visits(commune) -> list[dict]:
    with commune.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(tables.home_visits)).mappings()]


# -- the whole walk, in browsers ------------------------------------------------------


def test_an_officer_makes_a_visit_and_the_citizen_rates_at_home_on_a_phone(site, browser, shots):
    commune, _clock = site
    # The officer, on their own phone (the dashboard's script on, for the copy button).
    context = phone_context(browser, script=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=commune.url)
    officer = context.new_page()
    try:
        login_as(officer, commune.url, Role.OFFICER)
        officer.goto(f"{commune.url}/home-visits")
        assert "Nguyễn Thị Lan" in officer.locator(".own-officer").inner_text()
        officer.screenshot(path=str(shots / "home-01-form-phone.png"), full_page=True)
        officer.fill("#dossier", "H01.12-2026-0001")
        with officer.expect_navigation():
            officer.click(".home-visit-new button[type=submit]")
        link = officer.locator("a.visit-link").inner_text()
        # The public address (--public-url), not the one the page was asked at.
        assert re.fullmatch(r"http://localhost:\d+/h/[A-Za-z0-9_-]{32}", link), link
        # The QR code is that very link: the same matrix as the link encoded afresh.
        shown_qr = officer.locator(".qr-box svg path").get_attribute("d")
        assert shown_qr == re.search(r' d="([^"]+)"', qr_svg(link)).group(1)
        box = officer.locator(".qr-box svg").bounding_box()
        assert box["width"] >= 300, box  # large enough to scan from another phone
        text = officer.input_value("#invitation")
        assert text.startswith("UBND phường Hòa Bình mời Ông/Bà đánh giá cán bộ Nguyễn Thị Lan") and text.endswith(link)
        assert "H01.12-2026-0001" in text
        officer.click("button.copy")
        # The clipboard answers asynchronously; the button says so once it has.
        # (A locator's wait: the page's CSP forbids the eval a string predicate needs.)
        officer.locator("button.copy", has_text="Đã sao chép").wait_for()
        assert officer.evaluate("navigator.clipboard.readText()") == text
        officer.screenshot(path=str(shots / "home-02-qr-phone.png"), full_page=True)
    finally:
        context.close()

    # The citizen, on their phone, without script.
    context = phone_context(browser)
    phone = context.new_page()
    try:
        answer = phone.goto(local_link(commune, link))
        assert answer.status == 200
        assert "UBND phường Hòa Bình" in phone.locator("header").inner_text()
        assert "Nguyễn Thị Lan" in phone.locator(".visitor .officer").inner_text()
        assert re.search(r"Ngày \d{2}/\d{2}/\d{4}", phone.locator(".visitor").inner_text())
        assert phone.locator(".visitor img.portrait").count() == 1
        faces = phone.locator("button.face-button")
        assert faces.count() == 5  # the commune's scale
        assert faces.first.bounding_box()["width"] <= 390 and faces.first.bounding_box()["height"] >= 60
        assert float(faces.first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 20
        phone.screenshot(path=str(shots / "home-03-faces-phone.png"), full_page=True)
        with phone.expect_navigation():
            phone.click("button[value=very_dissatisfied]")
        assert "chưa hài lòng về điều gì" in phone.locator("h1").inner_text()
        assert "Yêu cầu nộp tiền ngoài quy định" in phone.locator(".reasons").inner_text()
        consent = phone.locator(".consent").inner_text()
        assert "lãnh đạo UBND phường Hòa Bình" in consent and "12 tháng" in consent
        # A number without consent is refused, what was typed stays.
        phone.check("input[value=waited_long]")
        phone.check("input[value=disrespectful]")
        phone.fill("#phone", "0912 345 678")
        with phone.expect_navigation():
            phone.click("button[type=submit]:not([name=skip])")
        assert "đánh dấu vào ô đồng ý" in phone.locator(".error").inner_text()
        assert phone.input_value("#phone") == "0912 345 678"
        assert phone.is_checked("input[value=waited_long]")
        phone.screenshot(path=str(shots / "home-04-no-consent-phone.png"), full_page=True)
        phone.check("input[name=consent]")
        with phone.expect_navigation():
            phone.click("button[type=submit]:not([name=skip])")
        assert "Cảm ơn Ông/Bà đã đánh giá" in phone.locator("h1").inner_text()
        assert "Lãnh đạo sẽ gọi lại" in phone.locator("main").inner_text()
        phone.screenshot(path=str(shots / "home-05-thanks-phone.png"), full_page=True)
        # The link again: received, no faces.
        answer = phone.goto(local_link(commune, link))
        assert answer.status == 200
        assert "Đánh giá đã được ghi nhận" in phone.locator("h1").inner_text()
        assert phone.locator("button.face-button").count() == 0
        phone.screenshot(path=str(shots / "home-06-received-phone.png"), full_page=True)
    finally:
        context.close()

    # Kept as a rating of that officer, at home, with its reasons; the case opened.
    rating, details = home_records(commune)
    assert (rating["kind"], rating["officer_id"], rating["level"], rating["dossier_code"]) == (
        "rating", OFFICER, "very_dissatisfied", "H01.12-2026-0001")
    assert "at_home" in rating["flags"].split() and "at_home" in details["flags"].split()
    assert details["rating_uuid"] == rating["uuid"] and details["callback_box"] and details["callback_phone"] is None
    assert set(json.loads(details["reasons"])) == {"waited_long", "disrespectful"}
    [visit] = visits(commune)
    assert visit["rating_uuid"] == rating["uuid"] and visit["used_at"] and visit["details_at"]
    with commune.engine.begin() as conn:
        [case] = conn.execute(select(tables.cases)).mappings().all()
    assert (case["rating_uuid"], case["officer_id"], case["cause"], bool(case["callback"])) == (
        rating["uuid"], OFFICER, "low_rating", True)
    # Sealed as a tablet's: never in clear in the database's files; the leader's page opens it.
    database = Path(commune.db_path)
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            assert PHONE.encode() not in path.read_bytes(), path
    assert number_for_rating(commune.engine, rating["uuid"]) == PHONE

    # Counted on the board, with the home ratings shown apart on request.
    context = phone_context(browser)
    leader = context.new_page()
    try:
        login_as(leader, commune.url, Role.LEADER)
        leader.goto(f"{commune.url}/board")
        assert leader.locator(".commune-figures").get_attribute("data-n") == "1"
        assert leader.locator(".commune-figures .at-home-count").get_attribute("data-at-home") == "1"
        assert leader.locator(f"tr[data-officer={OFFICER}]").first.get_attribute("data-n") == "1"
        leader.select_option("#place", "counter")
        with leader.expect_navigation():
            leader.click(".period-form button[type=submit]")
        assert "place=counter" in leader.url
        assert leader.locator(".commune-figures").get_attribute("data-n") == "0"
        leader.goto(f"{commune.url}/board?place=home")
        assert leader.locator(".commune-figures").get_attribute("data-n") == "1"
        leader.set_viewport_size(DESKTOP)
        leader.screenshot(path=str(shots / "home-07-board-home-desktop.png"), full_page=True)
        leader.goto(f"{commune.url}/cases/{case['id']}")
        assert PHONE in leader.locator("main").inner_text()  # the leader acts on it
        leader.goto(f"{commune.url}/devices")
        assert leader.locator(".home-source .records").inner_text() == "2"
        assert leader.locator(f"tr[data-device='{HOME_DEVICE_ID}']").count() == 0
        leader.screenshot(path=str(shots / "home-08-devices-desktop.png"), full_page=True)
    finally:
        context.close()

    # The officer sees their own home rating as any other, never the number.
    officer_http = api_login(commune.url, "officer", PASSWORDS[Role.OFFICER])
    own = officer_http.get(f"{commune.url}/me?place=home", timeout=10)
    assert own.status_code == 200 and 'data-at-home="1"' in own.text
    assert re.search(r'class="card officer-figures"[^>]*data-n="1"', own.text)
    for path in ("/me", "/home-visits", "/me?place=home&kind=day"):
        assert PHONE not in officer_http.get(commune.url + path, timeout=10).text
    assert "Đã đánh giá" in officer_http.get(f"{commune.url}/home-visits", timeout=10).text

    # Erasure works unchanged: the number's key is destroyed, the chain still verifies.
    assert erase_for_rating(commune.engine, rating["uuid"], "leader") == 1
    assert number_for_rating(commune.engine, rating["uuid"]) is None
    assert verify_chain(server_records(commune, HOME_DEVICE_ID)) == []


def test_every_new_page_at_desktop_and_phone_width(site, browser, shots):
    commune, clock = site
    http, expired = make_visit(commune, Role.LEADER, officer_id=OTHER, dossier_code="H01.12-2026-0043")
    expired_page = expired.headers["location"]
    expired_link = link_of(http, commune, expired)
    clock.advance(25 * 3600)
    http, fresh = make_visit(commune, Role.LEADER, officer_id=OTHER, dossier_code="H01.12-2026-0044")
    visit_page = fresh.headers["location"]
    fresh_link = link_of(http, commune, fresh)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE_WIDTH)):
        context = browser.new_context(viewport=viewport, locale="vi-VN")
        page = context.new_page()
        try:
            login_as(page, commune.url, Role.LEADER)
            for slug, path in (("visits", "/home-visits"), ("qr", visit_page), ("board", "/board?place=home"),
                               ("officer", f"/officers/{OTHER}?place=home"), ("devices", "/devices")):
                answer = page.goto(commune.url + path)
                assert answer.status == 200, (slug, answer.status)
                page.screenshot(path=str(shots / f"home-page-{slug}-{name}.png"), full_page=True)
            # The QR code of a visit past its expiry says so.
            page.goto(commune.url + expired_page)
            assert "hết hạn" in page.locator("#visit-state").inner_text()
        finally:
            context.close()
        context = browser.new_context(viewport=viewport, locale="vi-VN", java_script_enabled=False)
        page = context.new_page()
        try:
            for slug, url, status in (("faces", fresh_link, 200), ("expired", expired_link, 410),
                                      ("unknown", f"{commune.url}/h/{'x' * 32}", 404)):
                answer = page.goto(local_link(commune, url))
                assert answer.status == status, (slug, answer.status)
                page.screenshot(path=str(shots / f"home-public-{slug}-{name}.png"), full_page=True)
            page.goto(local_link(commune, fresh_link))
            if name == "desktop":  # rated here: the phone's turn shows it received
                with page.expect_navigation():
                    page.click("button[value=dissatisfied]")
            page.screenshot(path=str(shots / f"home-public-after-{name}.png"), full_page=True)
        finally:
            context.close()


# -- the link works once, and not after its time ------------------------------------


def test_the_link_refuses_a_second_use_and_a_good_rating_skips_the_call_back(site):
    commune, _ = site
    http, made = make_visit(commune)
    link = link_of(http, commune, made)
    first = requests.Session()
    answer = rate(commune, link, "very_satisfied", first)
    # A good rating: the reasons of praise (the demo asks for them), never the call-back.
    assert answer.status_code == 303 and answer.headers["location"].endswith("/chi-tiet")
    details = first.get(commune.url + answer.headers["location"], timeout=10)
    assert 'name="phone"' not in details.text and "Giải quyết nhanh chóng" in details.text
    # Another phone posting the same link: received, nothing more stored.
    second = requests.Session()
    csrf_page = second.get(local_link(commune, link), timeout=10)
    assert csrf_page.status_code == 200 and "Đánh giá đã được ghi nhận" in csrf_page.text
    posted = second.post(local_link(commune, link), data={"csrf": "x", "level": "dissatisfied"}, timeout=10,
                         cookies={"hailong_home_form": "x"}, allow_redirects=False)
    assert posted.status_code == 409
    # Nor can another browser add the reasons (it holds no key).
    stranger = second.get(local_link(commune, link) + "/chi-tiet", timeout=10)
    assert "form" not in stranger.text.split("<main>")[1]
    skipped = first.post(commune.url + answer.headers["location"], timeout=10, allow_redirects=False,
                         data={"csrf": form_token(details.text), "skip": "1"})
    assert skipped.status_code == 303
    assert [r["kind"] for r in home_records(commune)] == ["rating"]  # skipped: no details record
    again = first.get(commune.url + answer.headers["location"], timeout=10)
    assert "Đánh giá đã được ghi nhận" in again.text


def test_posts_at_the_same_moment_rate_once_and_chain_in_turn(site):
    commune, _ = site
    http, made = make_visit(commune)
    shared = link_of(http, commune, made)
    others = [link_of(http, commune, make_visit(commune, dossier_code=f"H01.12-2026-01{i}")[1]) for i in range(3)]
    # Each phone has its form open; then all post at once: one link twice, three others once each.
    posts = []
    for link in (shared, shared, *others):
        phone = requests.Session()
        csrf = form_token(phone.get(local_link(commune, link), timeout=10).text)
        posts.append((phone, link, csrf))
    with ThreadPoolExecutor(len(posts)) as pool:
        answers = list(pool.map(lambda p: p[0].post(local_link(commune, p[1]), timeout=30, allow_redirects=False,
                                                      data={"csrf": p[2], "level": "satisfied"}), posts))
    assert sorted(a.status_code for a in answers[:2]) == [303, 409]
    assert [a.status_code for a in answers[2:]] == [303, 303, 303]
    ratings = home_records(commune)
    assert [r["seq"] for r in ratings] == [1, 2, 3, 4] and len({r["uuid"] for r in ratings}) == 4
    assert verify_chain(server_records(commune, HOME_DEVICE_ID)) == []
    with commune.engine.begin() as conn:
        assert conn.execute(select(tables.findings)).all() == []
        assert conn.execute(select(tables.conflicts)).all() == []


def test_an_expired_or_unknown_link_is_refused_and_guessing_is_limited(site):
    commune, clock = site
    http, made = make_visit(commune)
    link = link_of(http, commune, made)
    visitor = requests.Session()
    opened = visitor.get(local_link(commune, link), timeout=10)
    clock.advance(24 * 3600 + 1)  # home_visit_hours: 24 by default
    late = visitor.get(local_link(commune, link), timeout=10)
    assert late.status_code == 410 and "đã hết hạn" in late.text
    posted = visitor.post(local_link(commune, link), timeout=10, allow_redirects=False,
                          data={"csrf": form_token(opened.text), "level": "satisfied"})
    assert posted.status_code == 410 and home_records(commune) == []
    unknown = requests.get(f"{commune.url}/h/{'A' * 32}", timeout=10)
    assert unknown.status_code == 404 and "Không tìm thấy" in unknown.text
    for _ in range(POSTS_PER_HOUR + 1):
        last = requests.get(f"{commune.url}/h/{'B' * 32}", timeout=10)
    assert last.status_code == 429 and last.headers["Retry-After"] == "3600"


def test_the_pages_are_small_and_need_no_script(site):
    commune, _ = site
    http, made = make_visit(commune)
    link = local_link(commune, link_of(http, commune, made))
    visitor = requests.Session()
    for step in ("faces", "details"):
        answer = visitor.get(link if step == "faces" else link + "/chi-tiet", timeout=10)
        assert answer.status_code == 200
        assert "<script" not in answer.text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', answer.text)
        assert assets == ["/static/public.css"]
        size = len(answer.content) + sum(len(requests.get(commune.url + a, timeout=10).content) for a in assets)
        assert size <= 50 * 1024, (step, size)
        if step == "faces":
            assert rate(commune, link, "dissatisfied", visitor).status_code == 303


def test_an_officer_cannot_rate_their_own_visit_from_their_browser(site):
    commune, _ = site
    http, made = make_visit(commune)
    link = link_of(http, commune, made)
    answer = rate(commune, link, "very_satisfied", http)
    assert answer.status_code == 403 and "không tự đánh giá" in answer.text
    assert home_records(commune) == [] and visits(commune)[0]["used_at"] is None


# -- who may make a visit ------------------------------------------------------------


def test_who_may_make_and_see_a_visit(site):
    commune, _ = site
    anonymous = requests.get(f"{commune.url}/home-visits", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    anonymous = requests.post(f"{commune.url}/home-visits", data={"officer_id": OFFICER, "dossier_code": "A1"},
                              timeout=10, allow_redirects=False)
    assert anonymous.status_code in (303, 401, 403)
    observer = api_login(commune.url, "observer", PASSWORDS[Role.OBSERVER])
    assert observer.get(f"{commune.url}/home-visits", timeout=10).status_code == 403
    assert observer.post(f"{commune.url}/home-visits", timeout=10,
                         data={"csrf": "x", "officer_id": OFFICER, "dossier_code": "A1"}).status_code == 403
    # An officer for someone else: refused, nothing made.
    _, refused = make_visit(commune, Role.OFFICER, officer_id=OTHER)
    assert refused.status_code == 403 and "cho chính mình" in refused.text
    assert visits(commune) == []
    # A dossier code with a space: refused with the reason.
    _, bad = make_visit(commune, Role.OFFICER, dossier_code="H01 12")
    assert bad.status_code == 422 and "không có khoảng trắng" in bad.text
    # A leader and the admin for any officer.
    leader, made = make_visit(commune, Role.LEADER, officer_id=OTHER)
    assert made.status_code == 303
    _, by_admin = make_visit(commune, Role.ADMIN, officer_id=OFFICER)
    assert by_admin.status_code == 303
    assert {(v["officer_id"], v["created_by"]) for v in visits(commune)} == {(OTHER, "leader"), (OFFICER, "admin")}
    # Only a digest of the token is kept.
    token = made.headers["location"].split("?t=")[1]
    assert all(token not in str(v) for v in visits(commune))
    # The QR page: not for another officer, and only with the token.
    officer = api_login(commune.url, "officer", PASSWORDS[Role.OFFICER])
    assert officer.get(commune.url + made.headers["location"], timeout=10).status_code == 403
    assert leader.get(commune.url + made.headers["location"].split("?")[0] + "?t=wrong", timeout=10
                      ).status_code == 404
    assert leader.get(commune.url + made.headers["location"], timeout=10).status_code == 200
    # The officer's list holds their own visits only.
    own = officer.get(f"{commune.url}/home-visits", timeout=10).text
    assert own.count("data-visit=") == 1


# -- the reserved source is no tablet ---------------------------------------------------


def test_the_reserved_source_cannot_be_paired_and_is_not_a_tablet(site):
    commune, clock = site
    http, made = make_visit(commune)
    assert rate(commune, link_of(http, commune, made), "satisfied").status_code == 303
    asked = requests.post(f"{commune.url}{API_PREFIX}/pair/device-code", timeout=10,
                          json={"device_id": HOME_DEVICE_ID, "label": "x", "app_version": "1"})
    assert asked.status_code == 422
    with pytest.raises(PairingError):
        commune.registry.request_code(HOME_DEVICE_ID, "x", "1")
    with pytest.raises(PairingError):
        commune.registry.revoke(HOME_DEVICE_ID)
    assert all(d["device_id"] != HOME_DEVICE_ID for d in commune.registry.health())
    # Its chain: intact, sealed, no finding; the evidence archive checks it like a tablet's.
    with commune.engine.begin() as conn:
        assert conn.execute(select(tables.findings).where(tables.findings.c.device_id == HOME_DEVICE_ID)).all() == []
    assert commune.app.state.home_visits.source_health()["chain_status"] == "intact"
    [check] = [c for c in device_checks(commune.engine) if c["device_id"] == HOME_DEVICE_ID]
    assert check["result"] == "intact" and check["stored_records"] >= 1
    records = server_records(commune, HOME_DEVICE_ID)
    assert verify_chain(records) == [] and all(r.seal for r in records)
    # The export and the periodic report count it as they count a tablet's rating.
    [row] = [dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in export_rows(commune.engine)]
    assert (row["officer_id"], row["device_id"], row["level"], row["dossier_code"]) == (
        OFFICER, HOME_DEVICE_ID, "satisfied", "H01.12-2026-0001")
    assert "at_home" in row["flags"].split() and row["callback_requested"] == "no"
    zone = load_settings(commune.engine).zone
    report = build_report(commune.engine, Period.today(zone, clock()), officer_id=OFFICER)
    assert report.figures.counted == 1 and report.figures.apart.get("at_home") == 1
