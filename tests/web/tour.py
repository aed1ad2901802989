"""A picture of every dashboard page that anyone can regenerate:

    python -m tests.web.tour OUT_DIR

builds a realistic commune in a temporary folder — the demo roster with
three counters, one account per role, two tablets paired through the real
pairing flow and a third one waiting for approval, ten weeks of ratings
made on the tablets' rating desks (low ones with reasons and call-back
requests, a few bursts, a technician's simulated session) and sent by
their real uploaders — then logs in as each role in headless Chromium and
saves every page that role may open at desktop (1280×800) and phone
(390×844) width, full page, as ``<role>-<page>-<desktop|phone>.png``.

A developer's tool beside the tests: it drives the tablet's code to make
the data, which the server itself never imports.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from zoneinfo import ZoneInfo

from kiosk.desk import DeviceClock
from kiosk.link.pairing import PairingClient
from server.accounts import AccountBook, Role
from server.roster import RosterStore
from server.store import surveys as stored_surveys
from tests.survey_samples import COMMENTS, plain_questionnaire
from tests.sync_support import Commune, ManualClock, Tablet, roster_file
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, login
from tests.web.support import PASSWORDS, make_accounts

__all__ = ["VIEWPORTS", "Shot", "shots", "expected_files", "tour", "main"]

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
WEEKS = 10
CLOSING = time(16, 30)
"""The server's clock stands still at this local time today: every page
shows the same day whenever the tour runs."""
OFFICER = "nguyen-thi-lan"
"""The officer whose account the tour logs in with."""
LOCKED_USERNAME = "ke-toan"
"""A username the tour locks out with wrong passwords (not a real account,
so no role's own login is locked)."""

# Each officer's counter and how citizens rate them (dissatisfied, satisfied,
# very satisfied): a spread a leader would see, one weaker officer, and one
# who joined last week and has too few ratings to rank.
OFFICERS = {
    "nguyen-thi-lan": ("quay-1", (4, 36, 60)),
    "vu-ngoc-anh": ("quay-1", (8, 50, 42)),
    "le-thi-thu-ha": ("quay-1", (22, 50, 28)),
    "tran-van-hung": ("quay-2", (12, 48, 40)),
    "hoang-thi-mai": ("quay-2", (6, 40, 54)),
    "pham-minh-tuan": ("quay-2", (10, 50, 40)),
}
NEWCOMER = "pham-minh-tuan"
COUNTERS = {"quay-1": "Quầy số 1 — Tư pháp, Hộ tịch", "quay-2": "Quầy số 2 — Địa chính, Xây dựng"}
LOW_REASONS = ("waited_long", "come_back", "unclear_guidance", "not_listening", "disrespectful", "late_result",
               "extra_papers")
HIGH_REASONS = ("fast", "listened", "clear_guidance", "respectful", "friendly", "on_time")
OPENING = ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))


# -- the commune's data ----------------------------------------------------------------------


class SteeredClock:
    """A tablet's wall and monotonic clocks, moved forward together by the
    tour (one boot), so the server places each rating at its local time."""

    def __init__(self, start: datetime, boot: str):
        self.local = start
        self.mono = 10**12
        self.boot = boot

    def to(self, when: datetime) -> None:
        """Move both clocks to ``when`` (never backwards)."""
        self.mono += max(0, int((when - self.local).total_seconds() * 1e9))
        self.local = max(when, self.local)

    def device_clock(self) -> DeviceClock:
        """The clock the tablet's rating desk and uploader read."""
        return DeviceClock(now=lambda: self.local, monotonic_ns=lambda: self.mono, boot=lambda: self.boot)


def _tablet_tree(counter_id: str) -> Callable[[dict], None]:
    def change(tree: dict) -> None:
        tree["counter"] = {"id": counter_id, "name": COUNTERS[counter_id]}
        tree["attribution"] = {"mode": "choose"}
        tree["rating"]["burst_interval_s"] = 5
        tree["working_hours"]["enforce"] = False
    return change


def _visits(rng: random.Random, day: date, until: datetime) -> list[datetime]:
    """The moments citizens rated at one counter on ``day``: a handful in
    opening hours, at least a minute apart, none after ``until``."""
    if day.weekday() == 6:
        return []
    hours = OPENING[:1] if day.weekday() == 5 else OPENING
    count = rng.randint(2, 4) if day.weekday() == 5 else rng.randint(4, 9)
    moments = []
    for _ in range(count):
        start, end = rng.choice(hours)
        first = datetime.combine(day, start, tzinfo=ZONE)
        span = (datetime.combine(day, end, tzinfo=ZONE) - first).total_seconds()
        moments.append(first + timedelta(seconds=rng.uniform(0, span)))
    moments.sort()
    spaced: list[datetime] = []
    for moment in moments:
        if spaced and moment < spaced[-1] + timedelta(minutes=1):
            moment = spaced[-1] + timedelta(minutes=1)
        if moment < until:
            spaced.append(moment)
    return spaced


def _rate_counter(tablet: Tablet, clock: SteeredClock, counter_id: str, now: datetime, rng: random.Random) -> int:
    """Ten weeks of one counter's ratings through its tablet's desk; returns how many."""
    officers = [officer for officer, (counter, _) in OFFICERS.items() if counter == counter_id]
    today = now.date()
    first = today - timedelta(weeks=WEEKS)
    # A technician tries the tablet one morning: simulated ratings, counted apart.
    simulated_day = today - timedelta(days=17 if counter_id == "quay-2" else 30)
    made = 0
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        for moment in _visits(rng, day, now):
            # The newcomer joined six days ago.
            present = [o for o in officers if o != NEWCOMER or day >= today - timedelta(days=6)]
            officer = rng.choice(present)
            score = rng.choices((1, 2, 3), weights=OFFICERS[officer][1])[0]
            clock.to(moment)
            simulated = day == simulated_day and moment.hour < 11
            record = tablet.desk.rate(officer, score, simulated=simulated)
            made += 1
            if not simulated and rng.random() < 0.06:
                # An impatient citizen taps twice: the second tap is flagged burst.
                clock.to(moment + timedelta(seconds=2))
                tablet.desk.rate(officer, score)
                made += 1
                continue
            clock.to(moment + timedelta(seconds=20))
            if score == 1:
                reasons = rng.sample(LOW_REASONS, rng.randint(1, 3))
                phone = f"09{rng.randint(10_000_000, 99_999_999)}" if rng.random() < 0.4 else None
                tablet.desk.add_details(record, reasons, phone, consent=phone is not None)
            elif rng.random() < 0.3:
                tablet.desk.add_details(record, rng.sample(HIGH_REASONS, rng.randint(1, 2)))
    return made


def _upload(tablet: Tablet) -> None:
    for _ in range(20):
        if tablet.uploader().run_once().pending == 0:
            return
    raise RuntimeError("the tablet could not upload its ratings")


def _surveys(commune: Commune, now: datetime, rng: random.Random) -> None:
    """The Front's baseline survey nine weeks ago and the campaign of the
    last four weeks, answered on the tablets, on phones and on paper."""
    today = now.date()
    with commune.engine.begin() as conn:
        questionnaire = stored_surveys.save_questionnaire(conn, plain_questionnaire(), by_account=None)
        for title, first, days, count, agree in (
                ("Khảo sát đầu kỳ (trước khi áp dụng mô hình)", today - timedelta(weeks=9), 14, 60, 0.4),
                ("Khảo sát định kỳ quý này", today - timedelta(weeks=4), 28, 150, 0.75)):
            campaign = stored_surveys.create_campaign(
                conn, title=title, questionnaire_id=questionnaire.id, starts_on=first,
                ends_on=first + timedelta(days=days - 1), kiosk=True, device_ids=None, public_link=True, paper=True,
                target=count, by_account=None)
            for _ in range(count):
                answers: dict = {"wait": 5 if rng.random() < agree else rng.choice([2, 3, 4]),
                                 "place": rng.choice([2, 3, 4, 5]), "attitude": rng.choice([3, 4, 4, 5, 5]),
                                 "heard": rng.choice(["portal", "friend", "board", "loa"]),
                                 "money": "no" if rng.random() < 0.95 else "yes"}
                if rng.random() < 0.6:
                    answers["papers"] = [k for k in ("copy", "confirm", "none") if rng.random() < 0.5] or ["none"]
                if rng.random() < 0.8:
                    answers["who"] = rng.choice(list(OFFICERS))
                if rng.random() < 0.12:
                    answers["idea"] = rng.choice(COMMENTS)
                day = first + timedelta(days=rng.randrange(days))
                moment = datetime.combine(day, rng.choice(OPENING)[0], tzinfo=ZONE) + timedelta(
                    minutes=rng.randrange(200))
                channel = rng.choice(["kiosk", "kiosk", "phone", "paper"])
                stored_surveys.add_response(
                    conn, campaign_id=campaign, questionnaire_id=questionnaire.id,
                    questionnaire_version=questionnaire.version, channel=channel, answered_at=min(moment, now),
                    answers=answers, complete=True)


@dataclass
class Communes:
    """The tour's servers: the lived-in commune and an empty one (first-time setup)."""

    lived_in: Commune
    empty: Commune
    ratings: int


@contextmanager
def communes(work: Path, *, seed: int = 8) -> Iterator[Communes]:
    """Build both servers in ``work`` and run them until the block ends."""
    now = datetime.combine(datetime.now(ZONE).date(), CLOSING, tzinfo=ZONE)
    server_clock = ManualClock()
    server_clock.now = now.astimezone(UTC)
    rng = random.Random(seed)
    with Commune(work / "commune", clock=server_clock) as commune, Commune(work / "empty") as empty:
        made = 0
        tablets = []
        for counter_id in COUNTERS:
            clock = SteeredClock(now - timedelta(weeks=WEEKS + 1), boot=f"boot-{counter_id}")
            tablet = Tablet(work / counter_id, commune.url, clock=clock.device_clock(),
                            tree_changes=_tablet_tree(counter_id))
            tablet.store.db.execute("PRAGMA synchronous=OFF")  # made-up data: no fsync per tap
            tablets.append(tablet)
            if counter_id == "quay-1":
                RosterStore(commune.engine).import_file(roster_file(tablet, counters=3))
            tablet.pair(commune)
            made += _rate_counter(tablet, clock, counter_id, now, rng)
            clock.to(now)
            _upload(tablet)
        # A new tablet at the third counter asks to be paired; nobody has answered yet.
        PairingClient(commune.url).start(str(uuid.uuid4()), "Quầy số 3", "0.1.0")
        make_accounts(commune.engine, OFFICER)
        _surveys(commune, now, rng)
        AccountBook(empty.engine).create(Role.ADMIN.value, PASSWORDS[Role.ADMIN], Role.ADMIN,
                                         display_name="Kỹ thuật viên")
        try:
            yield Communes(commune, empty, made)
        finally:
            for tablet in tablets:
                tablet.close()


# -- the pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One page to photograph: who opens it, its name in the file, where it
    is (or what to do to reach it), in which language, on which server."""

    role: str
    name: str
    path: str = ""
    lang: str = "vi"
    empty_server: bool = False
    action: str = ""

    def file_name(self, viewport: str) -> str:
        """``<role>-<page>-<desktop|phone>.png``."""
        return f"{self.role}-{self.name}-{viewport}.png"


def _month_anchor(today: date) -> date:
    """A day of the month the month pages show: this month once it has two
    weeks behind it, else the last one (a month page on the 2nd says little)."""
    return today if today.day > 14 else today.replace(day=1) - timedelta(days=1)


def shots(today: date) -> list[Shot]:
    """Every page of the tour, for a server whose today is ``today``."""
    month = f"kind=month&day={_month_anchor(today).isoformat()}"
    officer = f"/officers/{OFFICER}"
    other = "/officers/le-thi-thu-ha"
    return [
        Shot("anonymous", "login", "/login"),
        Shot("anonymous", "login-wrong", action="wrong-password"),
        Shot("anonymous", "login-locked", action="locked-out"),
        Shot("anonymous", "login-en", "/login", lang="en"),
        Shot("admin", "home", "/home"),
        Shot("admin", "devices", "/devices"),
        Shot("admin", "devices-en", "/devices", lang="en"),
        Shot("admin", "accounts", "/accounts"),
        Shot("admin", "audit", "/audit"),
        Shot("admin", "roster", "/roster"),
        Shot("admin", "roster-officer", f"/roster/officers/{OFFICER}"),
        Shot("admin", "roster-officer-new", "/roster/officers/new"),
        Shot("admin", "roster-settings", "/roster/settings"),
        Shot("admin", "roster-setup", "/roster", empty_server=True),
        Shot("admin", "settings", "/settings"),
        Shot("admin", "board-day", "/board"),
        Shot("admin", "forbidden", "/exports"),
        Shot("leader", "home", "/home"),
        Shot("leader", "board-day", "/board"),
        Shot("leader", "board-day-excluded", "/board?kind=day&flagged=exclude"),
        Shot("leader", "board-month", f"/board?{month}"),
        Shot("leader", "board-month-excluded", f"/board?{month}&flagged=exclude"),
        Shot("leader", "board-month-en", f"/board?{month}", lang="en"),
        Shot("leader", "officer-month", f"{other}?{month}"),
        Shot("leader", "officer-year", f"{other}?kind=year"),
        Shot("leader", "officer-year-en", f"{other}?kind=year", lang="en"),
        Shot("leader", "officer-newcomer", f"/officers/{NEWCOMER}?kind=week"),
        Shot("leader", "exports", "/exports"),
        Shot("leader", "exports-en", "/exports", lang="en"),
        Shot("leader", "roster", "/roster"),
        Shot("leader", "devices", "/devices"),
        Shot("leader", "cases", "/cases"),
        Shot("leader", "comments", "/comments"),
        Shot("leader", "reports", "/reports"),
        Shot("anonymous", "suggestion-box", "/gop-y"),
        Shot("officer", "home", "/home"),
        Shot("officer", "officer-month", f"{officer}?{month}"),
        Shot("officer", "officer-year", f"{officer}?kind=year"),
        Shot("officer", "forbidden", other),
        Shot("officer", "cases", "/cases"),
        Shot("officer", "reports", "/reports"),
        Shot("observer", "home", "/home"),
        Shot("observer", "board-day", "/board"),
        Shot("observer", "board-month", f"/board?{month}"),
        Shot("observer", "officer-month", f"{other}?{month}"),
        Shot("observer", "reports", "/reports"),
        Shot("observer", "forbidden", "/roster"),
        Shot("observer", "surveys", "/surveys"),
        Shot("observer", "survey-designer-template", "/surveys/questionnaires/new?template=1"),
        Shot("observer", "survey-campaign", action="latest-survey-campaign"),
        Shot("leader", "surveys-en", "/surveys", lang="en"),
        Shot("observer", "survey-results", "/survey-results"),
        Shot("observer", "survey-results-campaign", action="latest-survey-results"),
        Shot("observer", "survey-results-compare", "/survey-results/compare"),
        Shot("leader", "survey-results-compare-en", "/survey-results/compare", lang="en"),
    ]


def expected_files(today: date | None = None) -> list[str]:
    """The names of every PNG the tour writes."""
    today = today or datetime.now(ZONE).date()
    return [shot.file_name(viewport) for shot in shots(today) for viewport in VIEWPORTS]


def _act(page, base_url: str, shot: Shot) -> None:
    """Reach a page that is the answer to something done, not an address."""
    if shot.action == "wrong-password":
        login(page, base_url, "leader", "không phải mật khẩu")
    elif shot.action == "latest-survey-campaign":
        # The campaign's id is made by the server: open it from the survey list.
        page.goto(f"{base_url}/surveys")
        page.click("tr.campaign a >> nth=0")
    elif shot.action == "latest-survey-results":
        # The campaign's id is made by the server: open its results from the list.
        page.goto(f"{base_url}/survey-results")
        page.click("tr.result-campaign a >> nth=0")
    elif shot.action == "locked-out":
        # Five wrong passwords lock the username; the sixth attempt is refused for a while.
        for _ in range(6):
            login(page, base_url, LOCKED_USERNAME, "không phải mật khẩu")
    else:
        raise ValueError(shot.action)


def _photograph(browser, servers: Communes, role: str, viewport: str, todo: list[Shot], out_dir: Path) -> list[Path]:
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    written = []
    sessions = {}
    for server in {shot.empty_server for shot in todo}:
        commune = servers.empty if server else servers.lived_in
        context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                      has_touch=phone, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
        context.set_default_timeout(15_000)
        page = context.new_page()
        if role != "anonymous":
            login(page, commune.url, role, PASSWORDS[Role(role)])
        sessions[server] = (context, page, commune.url)
    try:
        for shot in todo:
            context, page, base_url = sessions[shot.empty_server]
            context.add_cookies([{"name": "lang", "value": shot.lang, "url": base_url}])
            if shot.action:
                _act(page, base_url, shot)
            else:
                page.goto(base_url + shot.path)
            page.wait_for_load_state("load")
            path = out_dir / shot.file_name(viewport)
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            print(path, flush=True)
    finally:
        for context, _page, _url in sessions.values():
            context.close()
    return written


def tour(out_dir: Path, browser=None) -> list[Path]:
    """Build the communes, photograph every page; returns the PNGs written.
    ``browser``: a Playwright Chromium already running (the tests' own), else
    one is launched for the tour."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = monotonic()
    with tempfile.TemporaryDirectory(prefix="hailong-dashboard-tour-") as work, communes(Path(work)) as servers:
        todo = shots(datetime.now(ZONE).date())
        print(f"{servers.ratings} ratings from 2 tablets in {monotonic() - started:.0f} s; "
              f"photographing {len(todo)} pages", flush=True)
        if browser is not None:
            return _photograph_all(browser, servers, todo, out_dir)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                return _photograph_all(launched, servers, todo, out_dir)
            finally:
                launched.close()


def _photograph_all(browser, servers: Communes, todo: list[Shot], out_dir: Path) -> list[Path]:
    written: list[Path] = []
    for viewport in VIEWPORTS:
        for role in dict.fromkeys(shot.role for shot in todo):
            mine = [shot for shot in todo if shot.role == role]
            written += _photograph(browser, servers, role, viewport, mine, out_dir)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.web.tour OUT_DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the PNGs (made if missing)")
    args = parser.parse_args(argv)
    written = tour(args.out_dir)
    print(f"{len(written)} screenshots in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
