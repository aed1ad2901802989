"""The citizen's path on the real Kivy app, headless, driven by simulated touches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.desk import DeviceClock
from kiosk.headless import HeadlessKiosk
from kiosk.widgets.hidden import LongPressArea
from sync.record import KIND_DETAILS, KIND_RATING
from tests.callback_support import give_server_key
from tests.conftest import write_config

SIZES = [(1280, 800), (800, 1280)]


def _shown(screen, text: str) -> bool:
    """Whether a label on ``screen`` shows exactly ``text``."""
    return any(getattr(w, "text", None) == text for w in screen.walk())


@pytest.fixture
def make_kiosk(tmp_path: Path, demo_tree: dict) -> Callable[..., HeadlessKiosk]:
    """Start the app on the demo config changed by ``change(tree)``."""
    started: list[HeadlessKiosk] = []

    def start(change: Callable[[dict], None] | None = None, size=(1280, 800), clock=None) -> HeadlessKiosk:
        if change is not None:
            change(demo_tree)
        settings = load_settings(write_config(tmp_path, demo_tree))
        kiosk = HeadlessKiosk(settings, size=size, clock=clock)
        # As a paired tablet: it holds the server's key, so it offers the call-back.
        give_server_key(kiosk.app.store)
        started.append(kiosk)
        return kiosk

    yield start
    for kiosk in started:
        kiosk.close()


def counter_mode(tree: dict) -> None:
    tree["attribution"]["mode"] = "counter"


def signed_in(officer_id: str = "tran-van-hung") -> Callable[[HeadlessKiosk], None]:
    def sign(kiosk: HeadlessKiosk) -> None:
        kiosk.app.desk.sign_in(officer_id)
        kiosk.app.visits.go_idle()
        kiosk.pump(2)

    return sign


def test_each_smiley_records_exactly_one_rating_for_the_officer_on_duty(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in("tran-van-hung")(kiosk)
    assert kiosk.screen.name == "rate"
    levels = []
    for index in range(3):
        face = kiosk.screen.faces()[index]
        before = kiosk.app.store.count(KIND_RATING)
        kiosk.tap(face)
        assert kiosk.app.store.count(KIND_RATING) == before + 1
        record = kiosk.app.store.last_rating()
        assert record.officer_id == "tran-van-hung"
        assert record.counter_id == "quay-1"
        assert record.level == face.level and record.score == face.score
        levels.append(record.level)
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
    # Best on the left, as a citizen reads them.
    assert levels == ["very_satisfied", "satisfied", "dissatisfied"]
    assert kiosk.app.store.verify() == []


def test_a_face_rebuilt_by_new_settings_is_tapped_where_it_is_shown(make_kiosk):
    """New settings rebuild the faces; until a frame lays them out they all
    sit at the origin. A tap comes after the frame that shows them, as a
    person's does, and rates the face aimed at (not the one on top)."""
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    settings = kiosk.app.settings
    kiosk.app.apply_settings(replace(settings, timeouts=replace(settings.timeouts, reasons=30)))
    best = kiosk.screen.faces()[0]
    kiosk.tap(best)
    assert kiosk.app.store.last_rating().level == best.level == "very_satisfied"


def test_closing_with_a_label_update_still_scheduled_raises_nothing(make_kiosk):
    """A label changed just before the app stops updates its texture in the
    frame that empties the window; its kv rules read ``app`` then."""
    from kiosk.widgets.button import BigButton

    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    button = kiosk.screen.ids.done
    assert isinstance(button, BigButton)
    button.text = "Một dòng chữ mới\ndài hơn, hai dòng"
    kiosk.close()  # the fixture closes it again: the second time does nothing
    assert button.texture_size[1] > 0
    # The next app's kv rules read the next app, not the closed one.
    from kivy.lang.parser import global_idmap

    following = make_kiosk(counter_mode)
    assert global_idmap["app"].root is following.app.root


def test_a_stopped_apps_screen_timing_out_leaves_the_next_app_alone(make_kiosk):
    """A screen's timeout reaches the app through ``get_running_app``: one
    left running by a stopped app (a screen entered in the very last frame)
    must not send the app that runs now back to idle."""
    first = make_kiosk(counter_mode)
    first.app.staff.open_staff()
    first.pump(2)
    stale = first.screen
    assert stale.name == "staff" and stale.timeout_s > 0
    first.close()
    following = make_kiosk(counter_mode)
    following.app.staff.open_staff()
    following.pump(2)
    assert following.screen.name == "staff"
    stale.timeout_s = 0.05
    stale.restart_timer()  # what a transition finishing after the stop would do
    following.wait(0.3)
    assert following.screen.name == "staff"
    # The running app's own screen still times out.
    following.screen.timeout_s = 0.05
    following.screen.restart_timer()
    following.wait(0.3)
    assert following.screen.name != "staff"


@pytest.mark.parametrize("scale", [4, 5])
def test_larger_scales_show_one_face_per_level(make_kiosk, scale):
    kiosk = make_kiosk(lambda t: (counter_mode(t), t["rating"].update(scale=scale)))
    signed_in()(kiosk)
    faces = kiosk.screen.faces()
    assert [f.score for f in faces] == list(range(scale, 0, -1))
    kiosk.tap(faces[-1])
    assert kiosk.app.store.last_rating().level == "very_dissatisfied"
    assert kiosk.screen.name == "reasons" and kiosk.screen.low


def test_choose_mode_rates_the_officer_the_citizen_picked(make_kiosk):
    kiosk = make_kiosk()  # the demo is a shared tablet
    assert kiosk.screen.name == "choose"
    card = kiosk.screen.cards()[3]
    kiosk.tap(card)
    assert kiosk.screen.name == "rate" and kiosk.screen.officer.id == card.officer.id
    kiosk.tap(kiosk.screen.faces()[0])
    assert kiosk.app.store.last_rating().officer_id == "pham-minh-tuan"


def test_low_rating_saves_reasons_and_a_consented_call_back(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    assert kiosk.screen.name == "reasons" and kiosk.screen.low
    chips = kiosk.screen.chips()
    kiosk.tap(chips[0])
    kiosk.tap(chips[4])
    kiosk.tap(kiosk.screen.ids.callback)
    assert kiosk.screen.name == "callback"
    kiosk.type_digits(kiosk.screen.ids.keypad, "0987654321")
    # Without consent «Gửi» stays disabled, nothing is sent and the citizen is told why.
    assert kiosk.screen.ids.send.disabled
    kiosk.tap(kiosk.screen.ids.send)
    assert kiosk.screen.name == "callback"
    assert _shown(kiosk.screen, kiosk.app.tr("callback.need_consent"))
    kiosk.tap(kiosk.screen.ids.consent)
    assert not kiosk.screen.ids.send.disabled
    kiosk.tap(kiosk.screen.ids.send)
    assert kiosk.screen.name == "thanks"
    rating = kiosk.app.store.last_rating()
    [details] = kiosk.app.store.details_for(rating.uuid)
    assert details.reasons == (chips[0].reason_id, chips[4].reason_id)
    assert details.callback_box and details.callback_phone is None and details.callback_consent is True
    # The QR code points at this very rating's comment form.
    assert kiosk.screen.comment_url == f"http://hailong.local:8080/c/{rating.uuid}?t={rating.comment_token}"
    qr = kiosk.screen.ids.qr
    assert kiosk.wait_until(lambda: qr.texture is not None)
    assert qr.texture.size[0] >= 21  # a real QR code: at least version 1's 21 modules


def test_a_short_number_is_refused_with_a_message(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    kiosk.tap(kiosk.screen.ids.callback)
    kiosk.type_digits(kiosk.screen.ids.keypad, "09123")
    kiosk.tap(kiosk.screen.ids.consent)
    # Consent alone does not enable «Gửi»: the number is not whole yet (and, still typing, no scolding).
    assert kiosk.screen.ids.send.disabled
    kiosk.tap(kiosk.screen.ids.send)
    assert kiosk.screen.name == "callback"
    assert not _shown(kiosk.screen, kiosk.app.tr("callback.invalid"))
    # A number that cannot be right is said so at once.
    kiosk.screen.ids.keypad.clear()
    kiosk.type_digits(kiosk.screen.ids.keypad, "1912345678")
    kiosk.pump(2)
    assert kiosk.screen.ids.send.disabled and _shown(kiosk.screen, kiosk.app.tr("callback.invalid"))
    assert kiosk.app.store.details_for(kiosk.app.store.last_rating().uuid) == []


def test_high_rating_asks_what_went_well_and_skip_keeps_the_rating(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[0])
    assert kiosk.screen.name == "reasons" and not kiosk.screen.low
    kiosk.tap(kiosk.screen.ids.skip)
    assert kiosk.screen.name == "thanks"
    rating = kiosk.app.store.last_rating()
    assert rating.level == "very_satisfied"
    assert kiosk.app.store.details_for(rating.uuid) == []


def test_high_reasons_can_be_switched_off(make_kiosk):
    kiosk = make_kiosk(lambda t: (counter_mode(t), t["rating"].update(reasons_on_high=False)))
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[0])
    assert kiosk.screen.name == "thanks"


def test_timeouts_return_to_idle_and_keep_what_was_tapped(make_kiosk):
    def short(tree):
        counter_mode(tree)
        tree["timeouts"].update(reasons=0.4, thanks=0.4)

    kiosk = make_kiosk(short)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    kiosk.tap(kiosk.screen.chips()[1])
    assert kiosk.wait_until(lambda: kiosk.screen.name == "rate", timeout=5)
    rating = kiosk.app.store.last_rating()
    [details] = kiosk.app.store.details_for(rating.uuid)
    assert details.reasons == (kiosk.app.settings.low_reasons[1].id,)
    # The thank-you screen also goes back by itself.
    # The reasons screen now waits (a loaded machine may take 0.4 s between
    # two frames), and every screen shown is noted: the 0.4 s thank-you
    # screen may come and go between two polls.
    settings = kiosk.app.settings
    kiosk.app.apply_settings(replace(settings, timeouts=replace(settings.timeouts, reasons=30)))
    shown: list[str] = []
    kiosk.app.root.bind(current=lambda _manager, name: shown.append(name))
    kiosk.tap(kiosk.screen.faces()[-1])
    # The reasons screen comes a few frames after the tap on a loaded machine.
    assert kiosk.wait_until(lambda: kiosk.screen.name == "reasons", timeout=10), shown
    kiosk.tap(kiosk.screen.ids.done)
    assert kiosk.wait_until(lambda: shown[-2:] == ["thanks", "rate"], timeout=10), shown
    assert shown == ["reasons", "thanks", "rate"]
    assert kiosk.app.store.count(KIND_RATING) == 2


def test_rapid_repeated_taps_are_recorded_and_flagged_burst(make_kiosk):
    kiosk = make_kiosk(lambda t: (counter_mode(t), t["rating"].update(reasons_on_high=False)))
    signed_in()(kiosk)
    for _ in range(3):
        kiosk.tap(kiosk.screen.faces()[0])
        kiosk.app.visits.go_idle()
        kiosk.pump(1)
    ratings = kiosk.app.store.ratings()
    assert len(ratings) == 3
    assert [r.burst for r in ratings] == [False, True, True]


def test_counter_closed_without_an_officer_and_no_rating_possible(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    assert kiosk.screen.name == "closed" and kiosk.screen.reason == "no_officer"
    kiosk.tap(kiosk.screen)
    assert kiosk.app.store.count() == 0


def test_counter_closed_outside_working_hours(make_kiosk):
    sunday_evening = datetime(2026, 11, 22, 20, 0).astimezone()

    def enforce(tree):
        tree["working_hours"]["enforce"] = True

    kiosk = make_kiosk(enforce, clock=DeviceClock(now=lambda: sunday_evening))
    assert kiosk.screen.name == "closed" and kiosk.screen.reason == "outside_hours"
    kiosk.app.visits.rate(3)  # even a stray call cannot record
    assert kiosk.app.store.count() == 0


def test_officer_signs_in_with_a_long_press_and_pin(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    entry = [w for w in kiosk.screen.walk() if isinstance(w, LongPressArea)][0]
    kiosk.tap(entry)  # a short tap does nothing
    assert kiosk.screen.name == "closed"
    kiosk.long_press(entry, entry.hold_s + 0.3)
    assert kiosk.screen.name == "staff"
    kiosk.tap(kiosk.screen.ids.shift)
    assert kiosk.screen.name == "signin"
    card = kiosk.screen.cards()[2]
    kiosk.tap(card)
    assert kiosk.screen.name == "pin"
    kiosk.type_digits(kiosk.screen.ids.pin, "2468")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.name == "rate"
    assert kiosk.screen.officer.id == card.officer.id
    assert kiosk.app.store.current_shift("quay-1").officer_id == card.officer.id
    # The same steps end the shift.
    kiosk.app.staff.open_signin()
    kiosk.tap(kiosk.screen.cards()[2])
    assert kiosk.screen.purpose == "shift_end"
    kiosk.type_digits(kiosk.screen.ids.pin, "2468")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.name == "closed"
    assert kiosk.app.store.current_shift("quay-1") is None


def test_wrong_pins_lock_the_officer_out(make_kiosk):
    kiosk = make_kiosk(lambda t: (counter_mode(t), t["security"].update(pin_attempts=3)))
    kiosk.app.staff.open_signin()
    kiosk.tap(kiosk.screen.cards()[0])
    for left in (2, 1):
        kiosk.type_digits(kiosk.screen.ids.pin, "0000")
        kiosk.tap(kiosk.screen.ids.submit)
        assert kiosk.screen.message == kiosk.app.tr("signin.wrong", left=left)
    kiosk.type_digits(kiosk.screen.ids.pin, "0000")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.message.startswith(kiosk.app.tr("signin.locked", seconds=0)[:20])
    # Even the right PIN is refused while locked.
    kiosk.type_digits(kiosk.screen.ids.pin, "2468")
    kiosk.tap(kiosk.screen.ids.submit)
    assert kiosk.screen.name == "pin"
    assert kiosk.app.store.current_shift("quay-1") is None
    assert [e["action"] for e in kiosk.app.store.audit_log()] == ["pin_lockout"]


def test_language_switch_is_for_one_visit(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    question = [w for w in kiosk.screen.walk() if getattr(w, "text", "") == kiosk.app.tr("idle.question")]
    assert question
    switch = [w for w in kiosk.screen.walk() if getattr(w, "text", "") == "English"][0]
    kiosk.tap(switch)
    assert question[0].text == "Are you satisfied with the officer's service?"
    assert [f.label for f in kiosk.screen.faces()] == ["Very satisfied", "Satisfied", "Dissatisfied"]
    kiosk.tap(kiosk.screen.faces()[0])
    kiosk.tap(kiosk.screen.ids.done)
    kiosk.app.visits.end_visit()
    kiosk.pump(2)
    # Fixed phrases are joined by non-breaking spaces, so a line never breaks inside one.
    assert question[0].text == kiosk.app.tr("idle.question") == (
        "Ông/Bà có hài\u00a0lòng với sự phục\u00a0vụ của cán\u00a0bộ không?"
    )


def _outside_window(screen, window_size) -> list[str]:
    """Visible widgets that stick out of the window, or whose words do not fit."""
    width, height = window_size
    problems = []
    for widget in screen.walk(restrict=True):
        if widget.opacity == 0 or widget.width <= 1 or widget.height <= 1:
            continue
        x, y = widget.to_window(widget.x, widget.y)
        if x < -1 or y < -1 or x + widget.width > width + 1 or y + widget.height > height + 1:
            problems.append(f"{type(widget).__name__} at {x:.0f},{y:.0f} size {widget.size}")
        texture = getattr(widget, "texture_size", None)
        if texture and getattr(widget, "text", "") and texture[0] > widget.width + 2:
            problems.append(f"text {widget.text!r} wider than its {type(widget).__name__}")
    return problems


@pytest.mark.parametrize("size", SIZES)
def test_screens_fit_both_orientations_with_big_touch_targets(make_kiosk, size):
    kiosk = make_kiosk(counter_mode, size=size)
    signed_in()(kiosk)
    app = kiosk.app
    assert _outside_window(kiosk.screen, size) == []
    short_side = min(size)
    for face in kiosk.screen.faces():
        assert face.d >= short_side * 0.18, "faces must be large targets"
    kiosk.tap(kiosk.screen.faces()[-1])
    assert _outside_window(kiosk.screen, size) == []
    for chip in kiosk.screen.chips():
        assert chip.height >= app.u * 10
    kiosk.tap(kiosk.screen.ids.callback)
    assert _outside_window(kiosk.screen, size) == []
    kiosk.tap(kiosk.screen.ids.cancel)
    assert kiosk.screen.name == "thanks"
    assert _outside_window(kiosk.screen, size) == []


def test_details_are_chained_after_their_rating(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.tap(kiosk.screen.faces()[-1])
    kiosk.tap(kiosk.screen.chips()[0])
    kiosk.tap(kiosk.screen.ids.done)
    kinds = [r.kind for r in kiosk.app.store.records()]
    assert kinds == [KIND_RATING, KIND_DETAILS]
    assert kiosk.app.store.verify() == []


@pytest.mark.parametrize("size", SIZES)
def test_five_faces_in_english_still_fit(make_kiosk, size):
    def change(tree):
        counter_mode(tree)
        tree["rating"]["scale"] = 5
        tree["language"] = "en"

    kiosk = make_kiosk(change, size=size)
    signed_in()(kiosk)
    assert [f.label for f in kiosk.screen.faces()][0] == "Very satisfied"
    assert _outside_window(kiosk.screen, size) == []
    for face in kiosk.screen.faces():
        assert face.d >= min(size) * 0.12, "five faces are still large targets"
    kiosk.tap(kiosk.screen.faces()[2])  # neutral counts as low: reasons and call-back
    assert kiosk.screen.name == "reasons" and kiosk.screen.low
    assert _outside_window(kiosk.screen, size) == []


def test_english_stays_until_the_visit_ends_and_chips_follow_the_language(make_kiosk):
    kiosk = make_kiosk(counter_mode)
    signed_in()(kiosk)
    kiosk.app.toggle_language()
    kiosk.app.visits.recheck_idle()  # the periodic look at hours and shifts
    kiosk.pump(1)
    assert kiosk.app.language == "en"
    kiosk.tap(kiosk.screen.faces()[-1])
    assert kiosk.screen.chips()[0].text == "Waited too long"
    kiosk.app.toggle_language()
    kiosk.pump(1)
    assert kiosk.screen.chips()[0].text == "Phải chờ quá lâu"


def test_a_tap_for_an_officer_who_just_left_the_roster_goes_back_to_idle(make_kiosk):
    import dataclasses

    kiosk = make_kiosk()
    kiosk.tap(kiosk.screen.cards()[0])
    officer = kiosk.screen.officer
    # The roster changes while the citizen looks at the faces.
    gone = tuple(dataclasses.replace(o, active=o.id != officer.id) for o in kiosk.app.settings.officers)
    kiosk.app.desk.settings = dataclasses.replace(kiosk.app.settings, officers=gone)
    kiosk.tap(kiosk.screen.faces()[0])
    assert kiosk.app.store.count() == 0
    assert kiosk.screen.name == "choose"


def test_a_roster_arriving_during_a_visit_waits_for_its_end(make_kiosk):
    kiosk = make_kiosk()
    kiosk.tap(kiosk.screen.cards()[0])
    kiosk.tap(kiosk.screen.faces()[-1])
    assert kiosk.screen.name == "reasons"
    roster = {
        "commune": {"name": "UBND xã Tân Lập"},
        "officers": [{"id": "dinh-van-nam", "name": "Đinh Văn Nam", "title": "Công chức Tư pháp - Hộ tịch"}],
    }
    kiosk.app.sync.roster_arrived(roster)
    assert kiosk.app.commune_name != "UBND xã Tân Lập"  # not while the citizen chooses reasons
    kiosk.tap(kiosk.screen.ids.done)
    kiosk.app.visits.end_visit()
    kiosk.pump(2)
    assert kiosk.app.commune_name == "UBND xã Tân Lập"
    assert [c.officer.id for c in kiosk.screen.cards()] == ["dinh-van-nam"]
