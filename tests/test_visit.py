"""The citizen's visit without a window: the flow on a real store, the
screens replaced by a navigator that only remembers what it showed."""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.config import AttributionMode
from kiosk.desk import DeviceClock
from kiosk.navigator import CatalogueWords
from kiosk.visit import VisitFlow, reason_label
from sync.record import KIND_DETAILS, KIND_RATING
from tests.callback_support import give_server_key
from tests.kiosk_fakes import Counter, open_counter


@pytest.fixture
def counter(tmp_path, demo_tree) -> Counter:
    opened = open_counter(tmp_path, demo_tree)  # the demo is a shared tablet: choose mode
    yield opened
    opened.store.close()


def flow_for(counter: Counter, idled: list | None = None) -> VisitFlow:
    on_idle = idled.append if idled is not None else None
    return VisitFlow(counter.desk, counter.navigator, CatalogueWords("vi"), on_idle=on_idle)


def test_choose_mode_rests_on_the_officer_grid(counter):
    flow = flow_for(counter)
    flow.go_idle()
    assert counter.navigator.current == "choose"
    assert flow.at_rest and not flow.in_progress


def test_a_low_rating_asks_why_and_saves_the_reasons_once(counter):
    flow = flow_for(counter)
    flow.go_idle()
    officer = counter.settings.officer("pham-minh-tuan")
    flow.choose_officer(officer)
    rate = counter.navigator.screen("rate")
    assert counter.navigator.current == "rate" and rate.officer is officer and rate.can_go_back

    flow.rate(1)
    rating = counter.store.last_rating()
    assert rating.officer_id == "pham-minh-tuan" and rating.level == "dissatisfied"
    reasons = counter.navigator.screen("reasons")
    assert counter.navigator.current == "reasons" and reasons.low
    assert reasons.reason_ids == [r.id for r in counter.settings.low_reasons]
    assert reasons.reason_labels[0] == "Phải chờ quá lâu"

    flow.reasons_done(["waited_long", "come_back"])
    [details] = counter.store.details_for(rating.uuid)
    assert details.reasons == ("waited_long", "come_back") and details.callback_phone is None
    thanks = counter.navigator.screen("thanks")
    assert counter.navigator.current == "thanks"
    assert thanks.comment_url == f"http://hailong.local:8080/c/{rating.uuid}?t={rating.comment_token}"
    assert thanks.callback_noted is False

    flow.end_visit()  # the thank-you screen times out
    assert counter.store.count(KIND_DETAILS) == 1  # not saved a second time
    assert counter.navigator.current == "choose" and not flow.in_progress


def test_a_call_back_needs_consent_to_keep_the_number(counter):
    give_server_key(counter.store)
    flow = flow_for(counter)
    flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    flow.rate(1)
    flow.request_callback(["waited_long"])
    assert counter.navigator.current == "callback"
    assert ("reset",) in counter.navigator.screen("callback").told
    # The screen timed out with a number typed but the box not ticked.
    flow.callback_done("0912345678", False, thank=False)
    [details] = counter.store.details_for(counter.store.last_rating().uuid)
    assert details.reasons == ("waited_long",) and details.callback_box is None
    assert counter.navigator.current == "choose"


def test_a_consented_call_back_is_noted_on_the_thank_you_screen(counter):
    give_server_key(counter.store)
    flow = flow_for(counter)
    flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    flow.rate(1)
    flow.request_callback([])
    flow.callback_done("0912345678", True)
    [details] = counter.store.details_for(counter.store.last_rating().uuid)
    assert details.callback_box is not None and details.callback_consent is True
    assert details.callback_phone is None
    assert counter.navigator.screen("thanks").callback_noted is True
    # The visit forgot the number once it was sealed.
    assert flow.visit.phone == ""


def test_no_call_back_is_offered_before_the_tablet_holds_the_servers_key(counter):
    flow = flow_for(counter)
    flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    flow.rate(1)
    assert counter.navigator.current == "reasons"
    assert counter.navigator.screen("reasons").offers_callback is False
    # Asked anyway (an old screen): the reasons are kept, no number screen shows.
    flow.request_callback(["waited_long"])
    assert counter.navigator.current == "thanks"
    [details] = counter.store.details_for(counter.store.last_rating().uuid)
    assert details.reasons == ("waited_long",) and details.callback_box is None


def test_the_call_back_is_offered_once_the_tablet_holds_the_servers_key(counter):
    give_server_key(counter.store)
    flow = flow_for(counter)
    flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    flow.rate(1)
    assert counter.navigator.screen("reasons").offers_callback is True


def test_a_high_rating_without_high_reasons_goes_straight_to_thanks(tmp_path, demo_tree):
    demo_tree["rating"]["reasons_on_high"] = False
    counter = open_counter(tmp_path, demo_tree)
    try:
        flow = flow_for(counter)
        flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
        flow.rate(3)
        assert counter.navigator.current == "thanks"
        assert counter.store.count(KIND_RATING) == 1 and counter.store.count(KIND_DETAILS) == 0
    finally:
        counter.store.close()


def test_counter_mode_without_an_officer_is_closed_and_records_nothing(tmp_path, demo_tree):
    demo_tree["attribution"] = {"mode": "counter"}
    counter = open_counter(tmp_path, demo_tree)
    try:
        assert counter.settings.mode is AttributionMode.COUNTER
        flow = flow_for(counter)
        flow.go_idle()
        closed = counter.navigator.screen("closed")
        assert counter.navigator.current == "closed" and closed.reason == "no_officer"
        assert closed.hours  # today's hours, or "no hours" in words
        flow.rate(3)  # a stray tap
        assert counter.store.count() == 0 and counter.navigator.current == "closed"

        counter.desk.sign_in("tran-van-hung")
        flow.go_idle()
        rate = counter.navigator.screen("rate")
        assert counter.navigator.current == "rate"
        assert rate.officer.id == "tran-van-hung" and rate.can_go_back is False
        flow.rate(3)
        assert counter.store.last_rating().officer_id == "tran-van-hung"
    finally:
        counter.store.close()


def test_outside_working_hours_the_counter_is_closed(tmp_path, demo_tree):
    demo_tree["working_hours"]["enforce"] = True
    sunday_evening = datetime(2026, 11, 22, 20, 0).astimezone()
    counter = open_counter(tmp_path, demo_tree, DeviceClock(now=lambda: sunday_evening))
    try:
        flow = flow_for(counter)
        flow.go_idle()
        assert counter.navigator.screen("closed").reason == "outside_hours"
        flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
        flow.rate(3)
        assert counter.store.count() == 0 and counter.navigator.current == "closed"
    finally:
        counter.store.close()


def test_the_idle_hook_runs_on_every_return_and_the_recheck_keeps_the_language(counter):
    idled: list[bool] = []
    flow = flow_for(counter, idled)
    flow.go_idle()
    assert idled == [False]
    flow.recheck_idle()  # at rest: look again, keeping a language a citizen chose
    assert idled == [False, True]
    flow.choose_officer(counter.settings.officer("nguyen-thi-lan"))
    flow.recheck_idle()  # a citizen is being served: leave them be
    assert idled == [False, True] and counter.navigator.current == "rate"
    flow.end_visit()
    assert idled == [False, True, False]


def test_steps_after_the_visit_ended_only_go_back_to_idle(counter):
    flow = flow_for(counter)
    flow.reasons_done(["waited_long"])
    flow.callback_done("0912345678", True)
    flow.request_callback([])
    assert counter.store.count() == 0
    assert counter.navigator.shown == ["choose", "choose", "choose"]


def test_reason_labels_come_from_the_settings_then_the_catalogue(counter):
    settings = counter.settings
    assert reason_label(settings, "vi", "waited_long") == "Phải chờ quá lâu"
    assert reason_label(settings, "en", "waited_long") == "Waited too long"
    # Not offered on this tablet any more, but still in the catalogue.
    assert reason_label(settings, "en", "hard_to_understand") != "hard_to_understand"
    assert reason_label(settings, "vi", "gone-from-everywhere") == "gone-from-everywhere"
