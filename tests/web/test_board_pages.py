"""The board, an officer's page and the exports, against ratings made on a
real tablet and uploaded to a real server: every figure on a page is checked
against counts worked out here from the tablet's own records (the Wilson
bounds from the formula), with and without the exclusion switch, in the
commune's local days; who may open what; the exported files."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from openpyxl import load_workbook

from kiosk.desk import DeviceClock
from server.accounts import AccountBook, Role
from server.roster import RosterStore
from server.settings import save_setting
from sync.record import KIND_RATING
from tests.sync_support import Commune, ManualClock, Tablet
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token, make_accounts

pytestmark = pytest.mark.xdist_group("web")

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 3, 5)  # a Thursday: "today" on the server's clock
MIN_RATINGS = 4  # the commune's ranking threshold, set in the settings
PHONE = "0912345678"
SATISFIED = {"satisfied", "very_satisfied"}
LEVEL_OF_SCORE = {1: "dissatisfied", 2: "satisfied", 3: "very_satisfied"}

# (local time, officer index, score, simulated). 06:30 on the 5th is 23:30 UTC on the 4th.
TAPS = [
    (datetime(2026, 3, 4, 9, 0), 0, 3, False),
    (datetime(2026, 3, 4, 23, 59), 1, 1, False),
    (datetime(2026, 3, 5, 6, 30), 0, 1, False),
    (datetime(2026, 3, 5, 7, 10), 0, 3, False),
    (datetime(2026, 3, 5, 7, 40), 1, 2, False),
    (datetime(2026, 3, 5, 8, 0), 0, 3, False),
    (datetime(2026, 3, 5, 8, 0, 2), 0, 3, False),  # 2 s after the last: a burst
    (datetime(2026, 3, 5, 8, 30), 1, 3, False),
    (datetime(2026, 3, 5, 9, 0), 2, 2, False),
    (datetime(2026, 3, 5, 9, 30), 0, 2, False),
    (datetime(2026, 3, 5, 10, 0), 1, 1, False),
    (datetime(2026, 3, 5, 10, 30), 1, 3, True),  # simulated
    (datetime(2026, 3, 5, 11, 0), 0, 3, False),
    (datetime(2026, 3, 5, 13, 30), 1, 3, False),
    (datetime(2026, 3, 5, 14, 0), 0, 1, False),
    (datetime(2026, 3, 5, 15, 0), 1, 2, False),
    (datetime(2026, 3, 5, 16, 0), 2, 3, False),
]
NOW = datetime(2026, 3, 5, 17, 0)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval, from its formula."""
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def pct(value: float) -> str:
    """A share as the Vietnamese pages write it: ``87,5%``."""
    return f"{100 * value:.1f}".replace(".", ",") + "%"


@dataclass
class Rated:
    """The tablet's ratings as the test sees them: local day, officer, level, flags."""

    uuid: str
    day: date
    officer_id: str
    level: str
    score: int
    burst: bool
    simulated: bool


class TabletTime:
    """The tablet's wall and monotonic clocks and the server's clock, moved together."""

    def __init__(self, server: ManualClock):
        self.server = server
        self.local = TAPS[0][0].replace(tzinfo=HANOI)
        self.mono = 5 * 10**12

    def to(self, local: datetime) -> None:
        when = local.replace(tzinfo=HANOI)
        self.mono += int((when - self.local).total_seconds() * 1e9)
        self.local = when
        self.server.now = when.astimezone(ZoneInfo("UTC"))

    def clock(self) -> DeviceClock:
        return DeviceClock(now=lambda: self.local, monotonic_ns=lambda: self.mono, boot=lambda: "boot-a")


def _tablet_tree(tree: dict) -> None:
    tree["attribution"] = {"mode": "choose"}
    tree["rating"]["burst_interval_s"] = 5
    tree["working_hours"]["enforce"] = False


@pytest.fixture
def rated(tmp_path):
    """A commune whose tablet rated :data:`TAPS` (with reasons and one
    call-back number), uploaded; accounts of every role; the server's clock
    at :data:`NOW`. Gives (commune, officers, names, ratings)."""
    server_clock = ManualClock()
    time = TabletTime(server_clock)
    with Commune(tmp_path, clock=server_clock) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url, clock=time.clock(), tree_changes=_tablet_tree)
        tablet.pair(commune)
        RosterStore(commune.engine).import_file(tablet.config_path)
        save_setting(commune.engine, "rank_min_ratings", MIN_RATINGS)
        officers = [o.id for o in tablet.settings.active_officers]
        names = {o.id: o.name for o in tablet.settings.active_officers}
        for local, who, score, simulated in TAPS:
            time.to(local)
            record = tablet.desk.rate(officers[who], score, simulated=simulated)
            if score == 1:
                tablet.desk.add_details(record, ["waited_long", "not_listening"], PHONE, consent=True)
            elif score == 3 and who == 0:
                tablet.desk.add_details(record, ["fast", "friendly"])
        time.to(NOW)
        assert tablet.uploader().run_once().pending == 0
        ratings = [Rated(r.uuid, datetime.fromisoformat(r.device_time).astimezone(HANOI).date(), r.officer_id,
                         r.level, r.score, bool(r.burst), bool(r.simulated))
                   for r in tablet.store.ratings() if r.kind == KIND_RATING]
        assert len(ratings) == len(TAPS)
        assert sum(r.burst for r in ratings) == 1 and sum(r.simulated for r in ratings) == 1
        make_accounts(commune.engine, officers[0])
        tablet.close()
        yield commune, officers, names, ratings


def expected(ratings: list[Rated], day: date, *, all_flagged: bool, officer: str | None = None) -> Counter:
    """Counted ratings by level on a local day: simulated ones always left
    out, bursts too when every flagged rating is."""
    return Counter(r.level for r in ratings
                   if r.day == day and (officer is None or r.officer_id == officer)
                   and not r.simulated and not (all_flagged and r.burst))


def follow(page, selector: str) -> None:
    """Click a link or button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def check_rate_row(row, levels: Counter) -> None:
    """A row (or card) of figures shows n, the rate and the Wilson bounds of ``levels``."""
    n = sum(levels.values())
    satisfied = sum(v for k, v in levels.items() if k in SATISFIED)
    assert int(row.get_attribute("data-n")) == n
    assert int(row.get_attribute("data-satisfied")) == satisfied
    text = row.inner_text()
    if n:
        low, high = wilson(satisfied, n)
        assert f"{pct(satisfied / n)}" in text
        assert f"{pct(low)} – {pct(high)}" in text or f"{pct(low)}–{pct(high)}" in text, text
    for level, count in levels.items():
        assert row.locator(f"[data-level='{level}'] strong").first.inner_text() == str(count)


def check_board(page, ratings, officers, names, day: date, *, all_flagged: bool) -> None:
    """The commune's card, the ranking and the officers too few to rank, as worked out here."""
    check_rate_row(page.locator(".commune-figures"), expected(ratings, day, all_flagged=all_flagged))
    counts = {o: expected(ratings, day, all_flagged=all_flagged, officer=o) for o in officers}
    ranked = [o for o in officers if sum(counts[o].values()) >= MIN_RATINGS]
    lows = {o: wilson(sum(v for k, v in counts[o].items() if k in SATISFIED), sum(counts[o].values()))[0]
            for o in ranked}
    order = sorted(ranked, key=lambda o: (-lows[o], -sum(counts[o].values())))
    shown = page.eval_on_selector_all("table.ranking tbody tr", "rows => rows.map(r => r.dataset.officer)")
    assert shown == order
    too_few = set(page.eval_on_selector_all("table.too-few tbody tr", "rows => rows.map(r => r.dataset.officer)"))
    assert too_few == set(officers) - set(ranked)
    for officer in officers:
        row = page.locator(f"table.figures tr[data-officer='{officer}']")
        check_rate_row(row, counts[officer])
        assert names[officer] in row.locator(".officer").inner_text()


def test_the_board_shows_figures_worked_out_from_the_tablets_records(rated, page):
    commune, officers, names, ratings = rated
    login_as(page, commune.url, Role.LEADER)
    assert page.url == f"{commune.url}/board"  # the leader's home: today's board
    assert "ngày 05/03/2026" in page.locator(".period-label").inner_text()
    # The rating at 06:30 local time (23:30 UTC the day before) counts on the 5th.
    early = next(r for r in ratings if r.day == DAY and r.score == 1 and r.officer_id == officers[0])
    assert early.day == DAY
    check_board(page, ratings, officers, names, DAY, all_flagged=False)
    apart = page.locator(".commune-figures .apart")
    assert "Bấm liên tiếp: 1" in apart.inner_text() and "Dữ liệu mô phỏng: 1" in apart.inner_text()
    assert page.locator("#too-few-title").inner_text() == "Chưa đủ lượt để xếp hạng (n < 4)"

    # The reasons under the plans' headings.
    faults = sum(1 for r in ratings if r.day == DAY and r.score == 1 and not r.simulated)
    praise = sum(1 for r in ratings if r.day == DAY and r.score == 3 and r.officer_id == officers[0]
                 and not r.simulated)
    assert page.locator("[data-heading='aim_faster'] .faulted").inner_text() == str(faults)
    assert page.locator("[data-heading='aim_faster'] .praised").inner_text() == str(praise)
    assert page.locator("[data-heading='show_closeness'] .praised").inner_text() == str(praise)

    # The one switch, a plain form: every flagged rating left out.
    page.check("input[name=flagged]")
    follow(page, "form.period-form button[type=submit]")
    assert "flagged=exclude" in page.url
    check_board(page, ratings, officers, names, DAY, all_flagged=True)

    # The day before: only its own ratings (23:59 local is still the 4th).
    follow(page, "a[rel=prev]")
    check_board(page, ratings, officers, names, DAY - timedelta(days=1), all_flagged=True)
    assert page.locator(".commune-figures").get_attribute("data-n") == "2"

    # The month, then a chosen range, through the form.
    page.select_option("#kind", "range")
    page.fill("#first", "2026-03-04")
    page.fill("#last", "2026-03-05")
    page.uncheck("input[name=flagged]")
    follow(page, "form.period-form button[type=submit]")
    both = expected(ratings, DAY, all_flagged=False) + expected(ratings, DAY - timedelta(days=1), all_flagged=False)
    check_rate_row(page.locator(".commune-figures"), both)


def test_an_officer_sees_only_their_own_page_on_a_phone(rated, browser):
    commune, officers, names, ratings = rated
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        login_as(phone, commune.url, Role.OFFICER)
        mine = f"{commune.url}/officers/{officers[0]}"
        assert phone.url == mine  # the officer's home is their own page
        menu = set(phone.eval_on_selector_all("nav.menu a", "links => links.map(a => a.getAttribute('href'))"))
        assert menu == {"/home", "/me", "/cases", "/reports", "/home-visits"}
        assert phone.locator("a[href^='/board']").count() == 0
        assert names[officers[0]] in phone.locator("h1").inner_text()
        # This month, by day: the table carries the figures, the chart the same ones.
        check_rate_row(phone.locator(".officer-figures"), sum(
            (expected(ratings, d, all_flagged=False, officer=officers[0]) for d in {r.day for r in ratings}),
            Counter()))
        row = phone.locator("table.trend tbody tr", has_text="05/03/2026")
        check_rate_row(row, expected(ratings, DAY, all_flagged=False, officer=officers[0]))
        assert phone.locator("figure.chart").is_visible()
        phone.wait_for_function("() => document.querySelector('#trend-chart').width > 0")
        box = phone.locator("#trend-chart").bounding_box()
        assert box and 300 <= box["width"] <= 390
        data = phone.evaluate("JSON.parse(document.getElementById('trend-data').textContent)")
        assert data["n"][data["labels"].index("05/03")] == sum(
            expected(ratings, DAY, all_flagged=False, officer=officers[0]).values())
        # Nothing of any citizen on it.
        assert PHONE not in phone.content()
        # Another officer's id typed in the address: refused, none of their data.
        for other in officers[1:3]:
            answer = phone.goto(f"{commune.url}/officers/{other}")
            assert answer.status in (403, 404)
            assert names[other] not in phone.content() and "data-n" not in phone.content()
        # The board itself leads back to their own page; exports are not theirs.
        phone.goto(f"{commune.url}/board")
        assert phone.url.startswith(mine)
        assert phone.goto(f"{commune.url}/exports").status == 403
    finally:
        context.close()


def test_the_page_works_without_javascript(rated, browser):
    commune, officers, names, ratings = rated
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login_as(page, commune.url, Role.OBSERVER)
        assert page.url == f"{commune.url}/board"  # the observer sees the scores
        page.goto(f"{commune.url}/officers/{officers[1]}?kind=day&day={DAY.isoformat()}")
        assert not page.locator("figure.chart").is_visible()
        check_rate_row(page.locator(".officer-figures"), expected(ratings, DAY, all_flagged=False,
                                                                  officer=officers[1]))
        check_rate_row(page.locator("table.trend tbody tr").first,
                       expected(ratings, DAY, all_flagged=False, officer=officers[1]))
    finally:
        context.close()


def _export(http: requests.Session, base: str, fmt: str, first: date, last: date) -> requests.Response:
    token = form_token(http.get(f"{base}/exports", timeout=10).text)
    return http.post(f"{base}/exports", timeout=30, data={
        "csrf": token, "first": first.isoformat(), "last": last.isoformat(), "format": fmt})


def test_exports_round_trip_names_and_sum_right(rated):
    commune, officers, names, ratings = rated
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    in_range = [r for r in ratings if r.day == DAY]

    answer = _export(leader, commune.url, "csv", DAY, DAY)
    assert answer.status_code == 200
    assert 'filename="hai-long-2026-03-05_2026-03-05.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf") and PHONE.encode() not in answer.content
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == len(in_range)
    assert {row["Mã lượt đánh giá"] for row in rows} == {r.uuid for r in in_range}
    by_uuid = {r.uuid: r for r in in_range}
    for row in rows:
        assert row["Tên cán bộ"] == names[by_uuid[row["Mã lượt đánh giá"]].officer_id]  # diacritics intact
        assert row["Thời gian (giờ địa phương)"].startswith("2026-03-05")
    assert any(row["Thời gian (giờ địa phương)"] == "2026-03-05 06:30:00" for row in rows)

    answer = _export(leader, commune.url, "xlsx", DAY - timedelta(days=1), DAY)
    assert answer.status_code == 200 and PHONE.encode() not in answer.content
    sheet = load_workbook(io.BytesIO(answer.content), read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    header, body = table[0], table[1:]
    assert "Điểm" in header and "Tên cán bộ" in header
    score, name = header.index("Điểm"), header.index("Tên cán bộ")
    assert len(body) == len(ratings)
    assert sum(row[score] for row in body) == sum(r.score for r in ratings)
    assert Counter(row[name] for row in body) == Counter(names[r.officer_id] for r in ratings)

    # Refused dates stay on the form; the exports are audited; nobody else may export.
    assert _export(leader, commune.url, "csv", DAY, DAY - timedelta(days=1)).status_code == 400
    entries, _total = AccountBook(commune.engine).audit_entries()
    assert {(e.action, e.target) for e in entries if e.action == "export"} == {("export", "csv"), ("export", "xlsx")}
    for role in (Role.ADMIN, Role.OFFICER, Role.OBSERVER):
        other = api_login(commune.url, role.value, PASSWORDS[role])
        assert other.get(f"{commune.url}/exports", timeout=10).status_code == 403
        token = form_token(other.get(f"{commune.url}/home", timeout=10).text)
        refused = other.post(f"{commune.url}/exports", timeout=10, allow_redirects=False,
                             data={"csrf": token, "first": "2026-03-05", "last": "2026-03-05", "format": "csv"})
        assert refused.status_code == 403 and PHONE not in refused.text


def test_the_export_form_says_the_file_is_being_made_until_it_comes(rated, page):
    """A month's XLSX takes many seconds to build before its first byte: the
    page says so and its button rests until the file's answer comes back
    with the token the submission sent."""
    commune, _officers, _names, ratings = rated
    login_as(page, commune.url, Role.LEADER)
    page.goto(f"{commune.url}/exports")
    note, button = page.locator("#export-wait"), page.locator("form.export-form button[type=submit]")
    assert note.is_hidden() and button.is_enabled()
    # Every state the note and the button go through, as it happens.
    page.evaluate("""() => {
        window.seen = [];
        const note = document.getElementById("export-wait");
        const button = document.querySelector("form.export-form button[type=submit]");
        const record = () => window.seen.push([note.hidden, button.disabled]);
        new MutationObserver(record).observe(note, {attributes: true});
        new MutationObserver(record).observe(button, {attributes: true});
    }""")
    page.fill("#first", (DAY - timedelta(days=1)).isoformat())
    page.fill("#last", DAY.isoformat())
    page.check("input[name=format][value=xlsx]")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.wait_for_function("() => document.getElementById('export-wait').hidden")
    assert button.is_enabled()
    seen = page.evaluate("window.seen")
    assert [False, True] in seen, seen  # shown, the button resting, while the file was made
    assert seen[-1] == [True, False], seen
    sent = {c["name"]: c["value"] for c in page.context.cookies()}.get("export_ready")
    assert sent and re.fullmatch(r"[0-9a-f]{24}", sent)

    # The cookie carries a token of the page's form only: anything else is not echoed.
    leader = api_login(commune.url, "leader", PASSWORDS[Role.LEADER])
    token = form_token(leader.get(f"{commune.url}/exports", timeout=10).text)
    for ready, echoed in (("0123456789abcdef", True), ("<b>not-a-token</b>", False), ("", False)):
        answer = leader.post(f"{commune.url}/exports", timeout=30, data={
            "csrf": token, "first": DAY.isoformat(), "last": DAY.isoformat(), "format": "csv", "ready": ready})
        assert answer.status_code == 200
        cookie = answer.headers.get("set-cookie", "")
        assert ("export_ready=" in cookie) is echoed, (ready, cookie)
        assert not echoed or "export_ready=0123456789abcdef;" in cookie


def test_anonymous_visitors_are_sent_to_the_login_page(rated):
    commune, officers, _names, _ratings = rated
    for path in ("/board", "/board?kind=month", "/me", f"/officers/{officers[0]}", "/exports"):
        answer = requests.get(f"{commune.url}{path}", timeout=10, allow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    answer = requests.post(f"{commune.url}/exports", timeout=10, allow_redirects=False,
                           data={"first": "2026-03-05", "last": "2026-03-05", "format": "csv"})
    assert answer.status_code in (303, 401, 403) and "Tên cán bộ" not in answer.text
    assert re.search(r"/login", answer.headers.get("location", "/login"))
