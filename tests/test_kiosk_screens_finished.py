"""The screens that look finished, on the real Kivy app, headless, driven by
simulated touches: the thank-you countdown and «Xong», the reasons' timeout,
faces as large in choose mode as in the others, 15 mm targets on a 7-inch
tablet and a 22-inch touch PC, the closed screen's words and week, the
officer's chart, balanced headings and the technician's settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.desk import DeviceClock
from kiosk.headless import HeadlessKiosk
from kiosk.screens.closed import week_lines
from kiosk.widgets.heading import Heading, balanced_width, wrapped_lines
from sync.record import KIND_RATING
from tests.conftest import write_config

# A 7-inch 1024x600 tablet has about 170 dots per inch; a 22-inch 1920x1080
# touch PC about 100.
SEVEN_INCH = ((1024, 600), 170.0)
TWENTY_TWO_INCH = ((1920, 1080), 100.0)


@pytest.fixture
def make_kiosk(tmp_path: Path, demo_tree: dict) -> Callable[..., HeadlessKiosk]:
    """Start the app on the demo config changed by ``change(tree)``, with no
    correction window (the tapped face goes straight on)."""
    started: list[HeadlessKiosk] = []

    def start(change=None, size=(1280, 800), clock=None, dpi=None) -> HeadlessKiosk:
        demo_tree["correction"] = {"window_s": 0}
        if dpi is not None:
            demo_tree.setdefault("display", {})["dpi"] = dpi
        if change is not None:
            change(demo_tree)
        kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)), size=size, clock=clock)
        started.append(kiosk)
        return kiosk

    yield start
    for kiosk in started:
        if not getattr(kiosk, "closed", False):
            kiosk.close()


def close(kiosk: HeadlessKiosk) -> None:
    """Close a kiosk before starting another in the same test."""
    kiosk.close()
    kiosk.closed = True


def counter_mode(tree: dict) -> None:
    tree["attribution"]["mode"] = "counter"


def on_duty(kiosk: HeadlessKiosk, officer_id: str = "tran-van-hung") -> None:
    kiosk.app.desk.sign_in(officer_id)
    kiosk.app.visits.go_idle()
    kiosk.pump(2)


# -- the thank-you screen and the reasons' timeout -----------------------------------


def test_thanks_counts_down_visibly_and_xong_goes_back_at_once(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    on_duty(kiosk)
    kiosk.tap(kiosk.screen.faces()[0])
    kiosk.tap(kiosk.screen.ids.done)  # no reasons
    screen = kiosk.screen
    assert screen.name == "thanks"
    assert kiosk.app.settings.timeouts.thanks == 20 == screen.timeout_s
    countdown = screen.ids.countdown
    assert countdown.text == kiosk.app.tr("thanks.countdown", seconds=20)
    assert "20" in countdown.text and countdown.opacity == 1
    kiosk.wait(1.3)
    assert screen.seconds_left in (18, 19)
    assert countdown.text == kiosk.app.tr("thanks.countdown", seconds=screen.seconds_left)
    # «Xong»: back to the officer's faces now, the rating kept, nothing added.
    ratings = kiosk.app.store.count(KIND_RATING)
    assert screen.ids.done.text == "Xong"
    kiosk.tap(screen.ids.done)
    assert kiosk.screen.name == "rate"
    assert kiosk.app.store.count(KIND_RATING) == ratings == 1


def test_thanks_goes_back_by_itself_when_the_countdown_ends(make_kiosk):
    kiosk = make_kiosk(lambda t: (counter_mode(t), t["timeouts"].update(thanks=1.2)))
    on_duty(kiosk)
    kiosk.tap(kiosk.screen.faces()[0])
    kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.screen.name == "thanks" and kiosk.screen.seconds_left == 2
    assert kiosk.wait_until(lambda: kiosk.screen.name == "rate", timeout=5)


def test_reasons_time_out_after_15_seconds_by_default(make_kiosk, demo_tree):
    from sync.roster import Timeouts

    assert Timeouts().reasons == 15.0 and Timeouts().thanks == 20.0
    kiosk = make_kiosk(counter_mode)
    on_duty(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    assert kiosk.screen.name == "reasons"
    assert kiosk.screen.timeout_s == 15 == kiosk.app.settings.timeouts.reasons


# -- sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280), (1024, 600)])
def test_faces_in_choose_mode_are_as_large_as_in_counter_mode(make_kiosk, size):
    counter = make_kiosk(counter_mode, size=size)
    on_duty(counter)
    counter_faces = [face.d for face in counter.screen.faces()]
    close(counter)
    choose = make_kiosk(lambda t: t["attribution"].update(mode="choose"), size=size)
    assert choose.screen.name == "choose"
    choose.tap(choose.screen.cards()[1])
    assert choose.screen.name == "rate" and choose.screen.ids.back.opacity == 1
    choose_faces = [face.d for face in choose.screen.faces()]
    assert choose_faces == pytest.approx(counter_faces, abs=1)
    assert min(choose_faces) > min(size) * 0.18
    # The way back sits inside the officer's card, not over its border.
    back, card = choose.screen.ids.back, choose.screen.ids.back.parent.parent
    bx, by = back.to_window(*back.pos)
    cx, cy = card.to_window(*card.pos)
    assert cx <= bx and bx + back.width <= cx + card.width
    assert cy <= by and by + back.height <= cy + card.height


def _targets(screen) -> list:
    """Everything a finger may tap on the screen now."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.settings import SettingItem

    from kiosk.widgets.hidden import LongPressArea
    from kiosk.widgets.settings_menu import PanelLabel

    found = []
    for widget in screen.walk(restrict=True):
        if not isinstance(widget, (ButtonBehavior, SettingItem, PanelLabel)) or isinstance(widget, LongPressArea):
            continue
        if widget.disabled or widget.width <= 1 or widget.height <= 1:
            continue
        if not _hidden(widget, screen):
            found.append(widget)
    return found


def _hidden(widget, screen) -> bool:
    """The widget, or one of its parents up to the screen, is transparent."""
    while widget is not None and widget is not screen:
        if widget.opacity == 0:
            return True
        widget = widget.parent
    return False


CHECKED: list[str] = []


def _too_small(kiosk: HeadlessKiosk) -> list[str]:
    limit = 15 * kiosk.app.mm - 0.5
    CHECKED.extend(type(w).__name__ for w in _targets(kiosk.screen))
    return [
        f"{kiosk.screen.name}: {type(w).__name__} {getattr(w, 'text', '')!r} {w.width:.0f}x{w.height:.0f}"
        for w in _targets(kiosk.screen) if min(w.width, w.height) < limit
    ]


@pytest.mark.parametrize(("size", "dpi"), [SEVEN_INCH, TWENTY_TWO_INCH], ids=["7-inch", "22-inch"])
def test_every_target_is_at_least_15_mm(make_kiosk, size, dpi):
    kiosk = make_kiosk(counter_mode, size=size, dpi=dpi)
    assert kiosk.app.mm == pytest.approx(dpi / 25.4)
    problems = _too_small(kiosk)  # closed: the language switch
    on_duty(kiosk)
    seen = ["rate"]
    problems += _too_small(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    problems += _too_small(kiosk)
    kiosk.tap(kiosk.screen.ids.done)
    problems += _too_small(kiosk)
    seen.append(kiosk.screen.name)
    kiosk.app.visits.go_idle()
    kiosk.app.staff.open_staff()
    kiosk.pump(2)
    problems += _too_small(kiosk)
    kiosk.tap(kiosk.screen.ids.my_day)
    problems += _too_small(kiosk)  # sign-in cards
    kiosk.tap(kiosk.screen.cards()[0])
    problems += _too_small(kiosk)  # PIN keypad
    kiosk.type_digits(kiosk.screen.ids.pin, "2468")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.name == "day"
    problems += _too_small(kiosk)
    kiosk.app.staff.open_staff()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.ids.technician)
    kiosk.type_digits(kiosk.screen.ids.pin, "1357")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.name == "tech"
    for section in ("settings", "officers", "pairing", "sync", "data", "health", "exit"):
        kiosk.screen.open_section(section)
        kiosk.pump(3)
        problems += _too_small(kiosk)
    assert problems == []
    assert seen == ["rate", "thanks"]
    # Every kind of target was looked at: faces, chips, keys, cards, toggles, settings.
    kinds = set(CHECKED)
    assert {"Smiley", "Chip", "BigButton", "LanguageButton", "OfficerCard", "ChoiceToggle",
            "PanelLabel", "SettingString"} <= kinds, kinds
    assert len(CHECKED) > 80


def test_a_card_in_a_list_that_scrolls_is_tapped_once_and_at_once(make_kiosk):
    """A tap on an officer in a list that scrolls opens the PIN at once.
    (On a slow machine Kivy's ScrollView may hand the release to the card
    0.2 s after the finger lifts; the driver's tap waits for it.)"""
    from kivy.uix.scrollview import ScrollView

    def many_officers(tree):
        counter_mode(tree)
        first = tree["officers"][0]
        tree["officers"] += [{**first, "id": f"can-bo-{n}", "name": f"Cán bộ số {n}"} for n in range(20)]

    (width, height), dpi = SEVEN_INCH
    kiosk = make_kiosk(many_officers, size=(width, height), dpi=dpi)
    kiosk.app.staff.open_signin()
    for _ in range(30):  # the sign-in screen is built when first opened
        kiosk.pump()
        scrollers = [w for w in kiosk.screen.walk() if isinstance(w, ScrollView)]
        if kiosk.screen.name == "signin" and scrollers:
            break
    assert kiosk.screen.name == "signin" and len(scrollers) == 1, (
        kiosk.screen.name, [type(w).__name__ for w in kiosk.screen.walk()][:30])
    [scroller] = scrollers
    assert scroller.children[0].height > scroller.height  # the list scrolls
    kiosk.tap(kiosk.screen.cards()[0])
    assert kiosk.screen.name == "pin"


def test_a_short_landscape_screen_keeps_the_keypad_under_the_band(make_kiosk):
    (width, height), dpi = SEVEN_INCH
    kiosk = make_kiosk(counter_mode, size=(width, height), dpi=dpi)
    assert kiosk.app.compact
    kiosk.app.staff.open_signin()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.cards()[0])
    assert kiosk.screen.name == "pin"
    band_bottom = height - max(kiosk.app.u * 13, kiosk.app.tap + kiosk.app.u * 2)
    for key in kiosk.screen.ids.pin.children:
        x, y = key.to_window(*key.pos)
        assert y >= -1 and y + key.height <= band_bottom + 1
    # «Quay lại» and «Vào ca» moved beside the keypad, under the PIN's prompt.
    assert kiosk.screen.ids.actions.parent.uid == kiosk.screen.ids.left.uid


# -- words --------------------------------------------------------------------------------


def test_the_closed_screen_says_outside_working_hours_with_the_weeks_hours(make_kiosk):
    def hours(tree):
        tree["working_hours"]["enforce"] = True

    sunday_evening = datetime(2026, 11, 22, 19, 30).astimezone()
    kiosk = make_kiosk(hours, clock=DeviceClock(now=lambda: sunday_evening))
    screen = kiosk.screen
    assert screen.name == "closed" and screen.reason == "outside_hours"
    assert screen.ids.title.text == "Hết giờ làm việc"
    assert screen.ids.why.text == "Mời Ông/Bà quay lại trong giờ làm việc."
    assert screen.ids.week.text.splitlines() == [
        "Thứ Hai – Thứ Sáu: 07:30–11:30, 13:30–17:00",
        "Thứ Bảy: 07:30–11:30",
        "Chủ Nhật: Nghỉ",
    ]
    kiosk.app.toggle_language()
    kiosk.pump(2)
    assert screen.ids.title.text == "Outside working hours"
    assert screen.ids.week.text.splitlines()[-1] == "Sunday: Closed"


def test_week_lines_group_only_days_that_open_alike():
    from kiosk.config import WorkingHours
    from kiosk.i18n import catalogue

    def tr(key, **values):
        return catalogue("vi").get(key, **values)

    a = ((datetime(2026, 1, 1, 7, 0).time(), datetime(2026, 1, 1, 11, 0).time()),)
    b = ((datetime(2026, 1, 1, 8, 0).time(), datetime(2026, 1, 1, 12, 0).time()),)
    hours = WorkingHours(enforce=True, sessions={"mon": a, "tue": a, "wed": b, "thu": a, "fri": a})
    assert week_lines(hours, tr) == [
        "Thứ Hai – Thứ Ba: 07:00–11:00",
        "Thứ Tư: 08:00–12:00",
        "Thứ Năm – Thứ Sáu: 07:00–11:00",
        "Thứ Bảy – Chủ Nhật: Nghỉ",
    ]


def test_balanced_headings_break_between_phrases():
    # Greedy wrapping at 100 leaves one word alone; the balanced width keeps two lines of three.
    words = [30.0] * 6
    assert wrapped_lines(words, 5, 200) == 2
    width = balanced_width(words, 5, 200)
    assert wrapped_lines(words, 5, width) == 2 and width < 200
    assert width >= 3 * 30 + 2 * 5 - 1
    # The catalogue keeps «đánh giá» and «cảm ơn» whole.
    from kiosk.i18n import catalogue

    title = catalogue("vi").get("thanks.title")
    assert "đánh\u00a0giá" in title and "Cảm\u00a0ơn" in title
    assert catalogue("vi").get("idle.hint") == "Mời Ông/Bà chạm vào một hình để đánh\u00a0giá"
    assert catalogue("vi").get("reason.extra_money") == "Yêu cầu nộp tiền ngoài quy định"


@pytest.mark.parametrize("size", [(800, 1280), (1024, 600)])
def test_headings_wrap_in_balanced_lines_never_inside_a_phrase(make_kiosk, size):
    kiosk = make_kiosk(counter_mode, size=size)
    on_duty(kiosk)
    kiosk.tap(kiosk.screen.faces()[0])
    kiosk.tap(kiosk.screen.ids.done)
    title = kiosk.screen.ids.title
    assert isinstance(title, Heading)
    kiosk.pump(2)
    lines = ["".join(word.text for word in line.words) for line in title._label._cached_lines]
    assert lines and all(not line.startswith("giá") for line in lines)
    if len(lines) > 1:
        widths = [title._label.get_extents(line)[0] for line in lines]
        assert min(widths) > 0.5 * max(widths), lines


# -- the officer's chart and the technician's settings ------------------------------------


def test_the_officers_chart_has_dates_counts_a_percent_axis_and_a_legend(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    desk = kiosk.app.desk
    desk.sign_in("le-thi-thu-ha")
    today = datetime.now().astimezone().replace(hour=9, minute=0)
    real_now = desk.clock.now
    try:
        for back, scores in ((2, (3, 3, 1)), (0, (3, 2, 2, 1))):
            for i, score in enumerate(scores):
                at = today - timedelta(days=back) + timedelta(minutes=10 * i)
                desk.clock.now = lambda at=at: at
                desk.rate("le-thi-thu-ha", score)
    finally:
        desk.clock.now = real_now
    kiosk.app.staff.open_staff()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.ids.my_day)
    card = [c for c in kiosk.screen.cards() if c.officer.id == "le-thi-thu-ha"][0]
    kiosk.tap(card)
    kiosk.type_digits(kiosk.screen.ids.pin, "2468")
    kiosk.tap(kiosk.screen.ids.submit)
    screen = kiosk.screen
    assert screen.name == "day"
    assert screen.ids.rate.text == "75%"  # no space before the sign
    chart = screen.ids.chart
    labels = chart.labels()
    assert {"0%", "50%", "100%"} <= set(labels)
    assert f"{today:%d/%m}" in labels and f"{today - timedelta(days=2):%d/%m}" in labels
    assert {"3", "4"} <= set(labels)  # each day's count
    assert screen.ids.legend_count.text == "Số lượt đánh giá"
    assert screen.ids.legend_rate.text == "Tỷ lệ hài lòng (%)"
    # The toggles show which is chosen, and the chart follows.
    assert screen.ids.days_7.state == "down" and screen.ids.days_30.state == "normal"
    assert screen.ids.days_7.bold and not screen.ids.days_30.bold
    assert len(chart.points) == 7
    kiosk.tap(screen.ids.days_30)
    assert screen.ids.days_30.state == "down" and screen.ids.days_7.state == "normal"
    assert len(chart.points) == 30
    assert len([t for t in chart.labels() if "/" in t]) < 30 / 2, "a month's dates are thinned"


def test_settings_are_themed_and_values_wrap_instead_of_being_cut(make_kiosk):
    long_name = "UBND phường Hòa Bình, thành phố Thái Nguyên, tỉnh Thái Nguyên"
    kiosk = make_kiosk(lambda t: t["commune"].update(name=long_name), size=(800, 1280))
    kiosk.app.staff.open_staff()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.ids.technician)
    kiosk.type_digits(kiosk.screen.ids.pin, "1357")
    kiosk.tap(kiosk.screen.ids.submit)
    kiosk.pump(3)
    from kivy.uix.settings import SettingString

    holder = kiosk.screen.ids.settings_holder.children[0]
    items = [w for p in holder.interface.content.panels.values() for w in p.walk()
             if isinstance(w, SettingString) and w.key == "commune_name"]
    [item] = items
    kiosk.pump(2)
    value = item.ids.content.children[0]
    assert value.text == long_name
    # Wrapped on more than one line, all of it inside the item.
    assert value.texture_size[0] <= value.width + 1
    assert value.texture_size[1] > value.font_size * 1.5
    assert item.height >= value.texture_size[1]
    # The paper of the kiosk, not Kivy's black.
    assert tuple(holder.canvas.before.children[0].rgba)[:3] != (0, 0, 0)
