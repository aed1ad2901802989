"""The Fatherland Front's survey from end to end, as the issue asks it to be
checked, in one scenario on a real commune server over loopback:

1. the observer builds a questionnaire from the SIPAS template in the
   designer (headless Chromium) and makes two campaigns of it with the
   campaign form: the baseline, before the model (paper only, ended), and the
   latest (tablets, public link and paper);
2. the baseline's paper forms are typed in; the latest gets answers from its
   three channels: a paired tablet running the real Kivy app (headless) fetches
   the campaign with its own sync code, citizens rate an officer and answer
   the survey by touch, and the app's uploader sends the records; citizens'
   phones answer on ``/s/<token>`` (Chromium at 390×844); the observer types
   in paper forms;
3. the results page and ``results.xlsx`` show the counts worked out here
   from the answers this test gave (per question and per channel);
4. the comparison page and ``compare.xlsx`` show the baseline against the
   latest with the differences and verdicts worked out here (the 95% Wilson
   intervals from their formula);
5. the board counts the tablet's ratings and nothing of the survey: no
   answer set adds to it, and the officer named in the survey gains no rating.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from kiosk.headless import HeadlessKiosk
from kiosk.widgets.letters import TONES
from server.accounts import Role
from server.i18n import translator
from server.roster import RosterStore
from server.store import surveys as stored
from server.store import tables
from server.surveys import SurveyDesk
from sync.record import KIND_RATING, KIND_SURVEY
from sync.survey import answers_of_text
from tests.web.conftest import login_as
from tests.web.support import PASSWORDS, api_login, form_token

pytestmark = pytest.mark.xdist_group("web")

PHONE = {"width": 390, "height": 844}
NAMED = "hoang-thi-mai"
"""The officer the citizens name in the survey's "who served you" question; nobody rates her."""
REQUIRED = ("tc1", "tt1", "cc1", "kq1", "gy3")
"""The template's required questions."""

# The baseline, before the model: six paper forms (the last leaves gy3 blank).
BASELINE = [
    {"tc1": 2, "tt1": 3, "cc1": 3, "kq1": "tre-hen", "gy3": 2, "tc4": "niem-yet"},
    {"tc1": 1, "tt1": 2, "cc1": 4, "kq1": "tre-hen", "gy3": 3},
    {"tc1": 3, "tt1": 4, "cc1": 3, "kq1": "dung-hen", "gy3": 2, "tc4": "nguoi-quen"},
    {"tc1": 2, "tt1": 3, "cc1": 5, "kq1": "chua-nhan", "gy3": 3},
    {"tc1": 3, "tt1": 2, "cc1": 2, "kq1": "tre-hen", "gy3": 4, "gy4": "Phải chờ lâu."},
    {"tc1": 1, "tt1": 3, "cc1": 4, "kq1": "dung-hen"},
]
# The latest campaign. On the tablet each citizen answers these and skips the
# rest; the third ends the survey («Kết thúc») at kq1.
TABLET = [
    {"tc1": 5, "tc4": "cong-dvc", "tt1": 4, "cc0": NAMED, "cc1": 5, "kq1": "dung-hen", "gy3": 5, "gy4": "nhanh gọn"},
    {"tc1": 4, "tt1": 5, "cc1": 4, "kq1": "som-hen", "gy3": 4},
    {"tc1": 5, "tc4": "can-bo"},
]
TABLET_LEAVES_AT = {2: "kq1"}
PHONES = [
    {"tc1": 4, "tt1": 4, "cc0": NAMED, "cc1": 5, "kq1": "dung-hen", "gy3": 4, "gy4": "Nên có thêm ghế chờ."},
    {"tc1": 5, "tc4": "cong-dvc", "tt1": 3, "cc1": 4, "kq1": "tre-hen", "gy3": 5},
    {"tc1": 4, "tt1": 5, "cc1": 5, "kq1": "dung-hen", "gy3": 3},
]
PAPER = [
    {"tc1": 5, "tt1": 4, "cc1": 4, "kq1": "dung-hen", "gy3": 4},
    {"tc1": 4, "tt1": 2, "cc1": 3, "kq1": "som-hen", "gy3": 4, "tc4": "niem-yet"},
    {"tc1": 3, "kq1": "dung-hen"},
]
LATEST = [("kiosk", a) for a in TABLET] + [("phone", a) for a in PHONES] + [("paper", a) for a in PAPER]

T = translator("vi")


# -- independent arithmetic ---------------------------------------------------------------------


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval, from its formula."""
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def pct(share: float) -> str:
    """A share as the Vietnamese pages write it: ``88,9%``."""
    return f"{100 * share:.1f}".replace(".", ",") + "%"


def agreeing(answer_sets: list[dict], key: str) -> tuple[int, int]:
    """(answered 4 or 5, answered) of a scale question."""
    values = [a[key] for a in answer_sets if key in a]
    return sum(1 for v in values if v >= 4), len(values)


def chosen(answer_sets: list[dict], key: str) -> tuple[Counter, int]:
    """Each option's count and how many answered a single-choice question."""
    values = [a[key] for a in answer_sets if key in a]
    return Counter(values), len(values)


def verdict(before: tuple[int, int], after: tuple[int, int]) -> str:
    """``up``, ``down`` or ``same``: a change only when the two intervals do not overlap."""
    b_low, b_high = wilson(*before)
    a_low, a_high = wilson(*after)
    if a_low > b_high:
        return "up"
    if a_high < b_low:
        return "down"
    return "same"


def canonical(given: tuple[str, dict]) -> str:
    """An answer set and its channel as text that does not depend on the answers' order."""
    return json.dumps(given, sort_keys=True, ensure_ascii=False)


def complete(answers: dict) -> bool:
    return all(key in answers for key in REQUIRED)


# -- the channels -----------------------------------------------------------------------------------


def make_campaign(page, url: str, questionnaire_id: str, title: str, first, last, *, kiosk: bool, link: bool) -> str:
    """A campaign made with the campaign form; its id."""
    page.goto(f"{url}/surveys/campaigns/new")
    page.fill("#title", title)
    page.select_option("#questionnaire_id", questionnaire_id)
    page.fill("#starts_on", first.isoformat())
    page.fill("#ends_on", last.isoformat())
    page.set_checked("#kiosk", kiosk)
    page.set_checked("#public_link", link)
    page.check("#paper")
    page.fill("#target", "100")
    page.click("#save")
    page.wait_for_load_state()
    found = re.search(r"/surveys/campaigns/([A-Za-z0-9_-]+)\?notice=created$", page.url)
    assert found, page.url
    return found.group(1)


def type_in_paper(http: requests.Session, url: str, campaign_id: str, forms: list[dict]) -> None:
    """The observer types in paper forms, one after another, over HTTP."""
    entry = http.get(f"{url}/surveys/campaigns/{campaign_id}/paper", timeout=30)
    assert entry.status_code == 200
    for number, answers in enumerate(forms, start=1):
        data = {"csrf": form_token(entry.text), **{f"a.{k}": str(v) for k, v in answers.items()}}
        entry = http.post(f"{url}/surveys/campaigns/{campaign_id}/paper", data=data, timeout=30)
        assert entry.status_code == 200 and f"saved={number}&" in entry.url, (number, entry.status_code)
        assert entry.url.endswith(f"incomplete={int(not complete(answers))}")


def rate_an_officer(kiosk: HeadlessKiosk, officer_index: int) -> str:
    """A citizen rates an officer and leaves the thank-you screen; the officer's id."""
    assert kiosk.screen.name == "choose"
    card = kiosk.screen.cards()[officer_index]
    kiosk.tap(card)
    kiosk.tap(kiosk.screen.faces()[0])
    if kiosk.screen.name == "reasons":
        kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "thanks"
    kiosk.tap(kiosk.screen.ids.done)
    return card.officer.id


def answer_on_tablet(kiosk: HeadlessKiosk, plan: dict[str, Any], leave_at: str | None) -> None:
    """Accept the invitation and answer ``plan`` by touch, skipping every
    other question; «Kết thúc» at ``leave_at``."""
    assert kiosk.screen.name == "survey_invite"
    kiosk.tap(kiosk.screen.ids.accept)
    for _ in range(40):
        if kiosk.screen.name != "survey_question":
            break
        screen, question = kiosk.screen, kiosk.app.surveys.question
        if question.key == leave_at:
            kiosk.tap(screen.ids.leave)
        elif question.key not in plan:
            kiosk.tap(screen.ids.skip)
        elif question.kind == "text":
            keys = screen.letter_keys().keys()
            word = plan[question.key]
            assert word == "nhanh gọn"  # typed as a citizen would: the letters, then the tone's key
            for key in ("n", "h", "a", "n", "h", "space", "g", "o", "n", TONES[4]):
                kiosk.tap(keys[key], frames=1)
            assert screen.typed == word
            kiosk.tap(screen.ids.go_on)
        else:
            wanted = plan[question.key]
            buttons = screen.option_buttons()
            if question.kind == "scale":
                target = next(b for b in buttons if b.point == wanted)
            elif question.kind == "officer":
                target = next(b for b in buttons if b.officer.id == wanted)
            else:
                target = next(b for b in buttons if b.option_key == wanted)
            kiosk.tap(target)
    assert kiosk.screen.name == "survey_thanks" and kiosk.screen.answered
    kiosk.tap(kiosk.screen.ids.done)


def answer_by_phone(browser, link: str, answers: dict[str, Any], kinds: dict[str, str]) -> None:
    """A citizen answers on the public link, on a phone-sized Chromium."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN")
    phone = context.new_page()
    try:
        phone.goto(link)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for key, value in answers.items():
            if kinds[key] == "text":
                phone.fill(f"textarea[name='a.{key}']", value)
            else:
                phone.check(f"input[name='a.{key}'][value='{value}']")
        phone.click("form.survey-answers button[type=submit]")
        phone.wait_for_load_state()
        assert "Cảm ơn" in phone.inner_text("h1")
    finally:
        context.close()


def board(http: requests.Session, url: str, today) -> tuple[int, dict[str, int]]:
    """The board's count of ratings for the week around today, and each officer's."""
    html = http.get(
        f"{url}/board",
        params={
            "kind": "range",
            "first": (today - timedelta(days=3)).isoformat(),
            "last": (today + timedelta(days=3)).isoformat(),
        },
        timeout=30,
    ).text
    commune = re.search(r'class="card commune-figures"[^>]*data-n="(\d+)"', html)
    assert commune, "no commune figures on the board"
    officers = {k: int(n) for k, n in re.findall(r'<tr data-officer="([^"]+)" data-n="(\d+)"', html)}
    return int(commune.group(1)), officers


def rows_of(book, sheet: str) -> list[tuple]:
    return list(book[sheet].iter_rows(min_row=2, values_only=True))


# -- the scenario -------------------------------------------------------------------------------------


def test_a_survey_from_design_to_comparison_through_every_channel(commune, tablet, roles, page, browser):
    url = commune.url
    RosterStore(commune.engine).import_file(tablet.config_path)
    today = SurveyDesk(commune.engine).today()
    observer = api_login(url, Role.OBSERVER.value, PASSWORDS[Role.OBSERVER])

    # 1. The questionnaire from the template, and two campaigns of it.
    login_as(page, url, Role.OBSERVER)
    page.goto(f"{url}/surveys/questionnaires/new?template=1")
    page.fill("#title", "Khảo sát sự hài lòng tại Bộ phận một cửa")
    page.click("#save")
    page.wait_for_load_state()
    found = re.search(r"/surveys/questionnaires/([A-Za-z0-9_-]+)\?saved=1$", page.url)
    assert found, page.url
    questionnaire_id = found.group(1)
    with commune.engine.begin() as conn:
        questionnaire = stored.questionnaire(conn, questionnaire_id)
    kinds = {q.key: q.kind for q in questionnaire.questions}
    assert [k for k in kinds if questionnaire.question(k).required] == list(REQUIRED)
    option_key = {o.text: o.key for o in questionnaire.question("kq1").options}
    baseline = make_campaign(
        page,
        url,
        questionnaire_id,
        "Khảo sát đầu kỳ",
        today - timedelta(days=60),
        today - timedelta(days=20),
        kiosk=False,
        link=False,
    )
    latest = make_campaign(
        page,
        url,
        questionnaire_id,
        "Khảo sát quý IV",
        today - timedelta(days=1),
        today + timedelta(days=30),
        kiosk=True,
        link=True,
    )
    token = page.inner_text("#public-link").rsplit("/s/", 1)[1]

    # 2. The baseline's paper forms, typed in after it ended.
    type_in_paper(observer, url, baseline, BASELINE)

    before_any, officers_before = board(observer, url, today)
    assert before_any == 0 and set(officers_before.values()) == {0} and NAMED in officers_before  # no rating yet

    # The tablet: the real app on the paired tablet's settings fetches the
    # roster and the campaign itself, citizens rate and answer by touch.
    kiosk = HeadlessKiosk(tablet.settings, store=tablet.store)
    try:
        assert kiosk.wait_until(lambda: kiosk.app.survey_desk.campaign_today() is not None, timeout=20)
        assert kiosk.app.survey_desk.campaign_today().id == latest
        assert kiosk.wait_until(lambda: kiosk.screen.name == "choose", timeout=5)
        rated = []
        for index, plan in enumerate(TABLET):
            rated.append(rate_an_officer(kiosk, index))
            answer_on_tablet(kiosk, plan, TABLET_LEAVES_AT.get(index))
        records = [r for r in tablet.store.records() if r.kind == KIND_SURVEY]
        assert [answers_of_text(r.answers) for r in records] == TABLET
        assert [r.complete for r in records] == [True, True, False]
        # The app's own uploader sends them («Đồng bộ ngay»).
        kiosk.app.sync.sync_now()
        assert kiosk.wait_until(lambda: tablet.store.pending_count() == 0, timeout=30)
        ratings = [r for r in tablet.store.records() if r.kind == KIND_RATING]
        device_id = tablet.store.device_id
    finally:
        kiosk.close()
    assert [r.officer_id for r in ratings] == rated and NAMED not in rated
    ratings_board, officers_board = board(observer, url, today)
    assert ratings_board == len(ratings)  # the three ratings; not the three survey records beside them
    assert officers_board.get(NAMED, 0) == 0

    # The phones, on the public link.
    for answers in PHONES:
        answer_by_phone(browser, f"{url}/s/{token}", answers, kinds)
    # The paper forms of the latest campaign.
    type_in_paper(observer, url, latest, PAPER)

    # Every answer set is where it belongs, once.
    with commune.engine.begin() as conn:
        got = [(a.channel, dict(a.answers)) for a in stored.responses(conn, latest)]
        got_baseline = [dict(a.answers) for a in stored.responses(conn, baseline)]
        kiosk_rows = conn.execute(
            select(tables.survey_responses.c.device_id).where(tables.survey_responses.c.channel == "kiosk")
        ).all()
    assert sorted(got, key=canonical) == sorted(LATEST, key=canonical) and got_baseline == BASELINE
    assert {row.device_id for row in kiosk_rows} == {device_id}
    counts = observer.get(f"{url}/surveys/campaigns/{latest}", timeout=30).text
    for channel in ("kiosk", "phone", "paper"):
        shown = re.search(rf'<tr class="count-{channel}"><th scope="row">[^<]*</th><td>(\d+)</td>', counts)
        assert shown and int(shown.group(1)) == sum(1 for c, _a in LATEST if c == channel), channel

    # 3. The results: the page, then the workbook.
    latest_sets = [a for _c, a in LATEST]
    by_channel = {c: [a for ch, a in LATEST if ch == c] for c in ("kiosk", "phone", "paper")}
    page.goto(f"{url}/survey-results/{latest}")
    assert page.inner_text("#respondents") == str(len(LATEST))
    assert T("survey_results.page.complete", count=sum(complete(a) for a in latest_sets)) in page.inner_text(
        ".result-summary"
    )
    for channel, sets in by_channel.items():
        chip = page.inner_text(f"a.chip[data-channel='{channel}']")
        assert chip == f"{T('survey_results.channel.' + channel)} ({len(sets)})"
    for key in ("tc1", "tt1", "gy3"):
        satisfied, n = agreeing(latest_sets, key)
        card = page.locator(f"section.question[data-key='{key}']")
        assert card.locator(".agree-share").inner_text() == f"{T('survey_results.agreeing')}: {pct(satisfied / n)}", key
        assert f"n = {n}" in card.locator(".agree-interval").inner_text()
    for key in ("kq1", "tc4"):
        counts, n = chosen(latest_sets, key)
        shown = page.locator(f"section.question[data-key='{key}'] table.result-rows tbody tr").all_inner_texts()
        options = questionnaire.question(key).options
        assert len(shown) == len(options)
        for option, row in zip(options, shown, strict=True):
            cells = row.split("\t")
            assert cells[0] == option.text and int(cells[1]) == counts[option.key], (key, row)
            assert cells[2] == pct(counts[option.key] / n)
    officers = page.locator("section.question[data-key='cc0'] table.result-rows tbody tr").all_inner_texts()
    named = sum(1 for a in latest_sets if a.get("cc0") == NAMED)
    assert [row.split("\t")[:2] for row in officers] == [["Hoàng Thị Mai", str(named)]]
    texts = page.inner_text("section.question[data-key='gy4']")
    assert "nhanh gọn" in texts and "Nên có thêm ghế chờ." in texts
    # One channel: the figures under it count only that channel's answer sets.
    page.click("a.chip[data-channel='phone']")
    page.wait_for_load_state()
    assert page.inner_text("#respondents") == str(len(PHONES))
    satisfied, n = agreeing(PHONES, "tc1")
    assert page.inner_text("section.question[data-key='tc1'] .agree-share").endswith(pct(satisfied / n))

    book = load_workbook(io.BytesIO(observer.get(f"{url}/survey-results/{latest}/results.xlsx", timeout=60).content))
    results = rows_of(book, T("survey_results.sheet.results"))
    tc1 = {row[6]: row for row in results if row[3] == "tc1"}
    for point in range(1, 6):
        row = next(r for label, r in tc1.items() if label.startswith(f"{point}. "))
        assert (row[7], row[8]) == (
            sum(1 for a in latest_sets if a.get("tc1") == point),
            agreeing(latest_sets, "tc1")[1],
        )
    assert tc1[T("survey_results.agreeing")][7:9] == agreeing(latest_sets, "tc1")
    counts, n = chosen(latest_sets, "kq1")
    kq1 = {option_key[row[6]]: row for row in results if row[3] == "kq1"}
    assert {k: (row[7], row[8]) for k, row in kq1.items()} == {k: (counts[k], n) for k in option_key.values()}
    assert all(math.isclose(row[9], counts[k] / n) for k, row in kq1.items())
    names = {T(f"survey_results.channel.{c}"): c for c in by_channel}
    per_channel = rows_of(book, T("survey_results.sheet.channels"))
    for key in ("tc1", "gy3"):
        text = questionnaire.question(key).text
        shown = {names[row[1]]: (row[2], row[3]) for row in per_channel if row[0] == text}
        assert shown == {c: agreeing(sets, key) for c, sets in by_channel.items()}, key

    # 4. The baseline against the latest: the page (the default pair), then the workbook.
    page.goto(f"{url}/survey-results/compare")
    assert page.input_value("#before") == baseline and page.input_value("#after") == latest
    for key in ("tc1", "tt1", "cc1", "gy3"):
        before, after = agreeing(BASELINE, key), agreeing(latest_sets, key)
        change = page.locator(f"section.compared[data-key='{key}'] tr.change")
        assert f"direction-{verdict(before, after)}" in change.get_attribute("class"), key
        assert change.locator(".before-share").inner_text() == pct(before[0] / before[1])
        assert change.locator(".after-share").inner_text() == pct(after[0] / after[1])
        points = 100 * (after[0] / after[1] - before[0] / before[1])
        assert change.locator(".difference").inner_text() == ("+" if points > 0 else "") + f"{points:.1f}".replace(
            ".", ","
        )
    assert verdict(agreeing(BASELINE, "tc1"), agreeing(latest_sets, "tc1")) == "up"  # the scenario shows a change
    assert "Tăng rõ rệt" in page.inner_text("section.compared[data-key='tc1'] .verdict")
    old, old_n = chosen(BASELINE, "kq1")
    new, new_n = chosen(latest_sets, "kq1")
    for option in questionnaire.question("kq1").options:
        change = page.locator(f"section.compared[data-key='kq1'] tr.change[data-label-key='{option.key}']")
        assert change.locator(".before-share").inner_text() == pct(old[option.key] / old_n)
        assert change.locator(".after-share").inner_text() == pct(new[option.key] / new_n)
        expected = verdict((old[option.key], old_n), (new[option.key], new_n))
        assert f"direction-{expected}" in change.get_attribute("class"), option.key

    book = load_workbook(io.BytesIO(observer.get(f"{url}/survey-results/compare.xlsx", timeout=60).content))
    compared = rows_of(book, T("survey_results.sheet.comparison"))
    tc1 = next(row for row in compared if row[0] == "tc1")
    before, after = agreeing(BASELINE, "tc1"), agreeing(latest_sets, "tc1")
    assert (tc1[4], tc1[5], tc1[9], tc1[10]) == (*before, *after)
    assert math.isclose(tc1[14], after[0] / after[1] - before[0] / before[1])
    assert tc1[15] == T("survey_results.yes")
    kq1_rows = [r for r in compared if r[0] == "kq1"]
    assert len(kq1_rows) == len(option_key)
    for row in kq1_rows:
        key = option_key[row[3]]
        assert (row[4], row[5], row[9], row[10]) == (old[key], old_n, new[key], new_n), key
        beyond = verdict((old[key], old_n), (new[key], new_n)) != "same"
        assert row[15] == T("survey_results.yes" if beyond else "survey_results.no"), key

    # 5. Survey answers never count as ratings: the board is as it was before
    # the phones and the paper, and the officer the survey named has none.
    assert board(observer, url, today) == (ratings_board, officers_board)
    assert sum(officers_board.values()) == len(ratings)
    assert all(officers_board.get(o, 0) == n for o, n in Counter(rated).items())
