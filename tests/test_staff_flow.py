"""Behind the hidden entry without a window: sign-in, shifts, the officer's
day and the technician's actions, on a real store and config file, the
screens replaced by a navigator that only remembers what it showed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kiosk.config import ConfigError, load_settings
from kiosk.navigator import CatalogueWords
from kiosk.pin import verify_pin
from kiosk.staff import PinPurpose, StaffChoice, StaffFlow
from kiosk.technician import TechnicianPanel
from kiosk.visit import VisitFlow
from tests.kiosk_fakes import Counter, open_counter

OFFICER_PIN = "2468"
TECHNICIAN_PIN = "1357"


@dataclass
class Staffed:
    counter: Counter
    visits: VisitFlow
    staff: StaffFlow
    technician: TechnicianPanel
    stopped: list
    locked: list

    def submit(self, pin: str) -> None:
        pin_screen = self.counter.navigator.screen("pin")
        self.staff.submit_pin(pin_screen.officer, pin)


def staffed(counter: Counter) -> Staffed:
    words = CatalogueWords("vi")
    stopped: list[bool] = []
    locked = [False]
    visits = VisitFlow(counter.desk, counter.navigator, words)
    technician = TechnicianPanel(
        counter.desk, counter.navigator, words, counter.apply_settings,
        roster_locked=lambda: locked[0], stop=lambda: stopped.append(True),
    )
    staff = StaffFlow(counter.desk, counter.pins(), counter.navigator, words, visits, technician)
    return Staffed(counter, visits, staff, technician, stopped, locked)


@pytest.fixture
def shared(tmp_path, demo_tree):
    """The demo: a shared tablet (choose mode)."""
    opened = open_counter(tmp_path, demo_tree)
    yield staffed(opened)
    opened.store.close()


@pytest.fixture
def at_counter(tmp_path, demo_tree):
    """A counter where officers sign in for their shifts."""
    demo_tree["attribution"] = {"mode": "counter"}
    demo_tree["security"] = {"pin_attempts": 3}
    opened = open_counter(tmp_path, demo_tree)
    yield staffed(opened)
    opened.store.close()


def test_pin_purposes_that_set_a_pin():
    assert {p for p in PinPurpose if p.sets_pin} == {PinPurpose.NEW_PIN, PinPurpose.NEW_PIN_AGAIN}
    assert PinPurpose("shift_end") is PinPurpose.SHIFT_END  # the screen's words are keyed by value


def test_a_shift_starts_and_ends_with_the_portrait_and_pin(at_counter):
    counter, staff, nav = at_counter.counter, at_counter.staff, at_counter.counter.navigator
    staff.open_signin()
    signin = nav.screen("signin")
    assert nav.current == "signin" and signin.on_duty is None
    assert [o.id for o in signin.officers] == [o.id for o in counter.settings.active_officers]
    officer = counter.settings.officer("le-thi-thu-ha")
    staff.officer_picked(officer)
    assert nav.current == "pin" and nav.screen("pin").purpose is PinPurpose.SHIFT_START
    at_counter.submit(OFFICER_PIN)
    assert counter.store.current_shift("quay-1").officer_id == "le-thi-thu-ha"
    assert nav.current == "rate" and nav.screen("rate").officer.id == "le-thi-thu-ha"

    staff.open_signin()
    assert nav.screen("signin").on_duty.id == "le-thi-thu-ha"
    staff.officer_picked(officer)
    assert nav.screen("pin").purpose is PinPurpose.SHIFT_END
    at_counter.submit(OFFICER_PIN)
    assert counter.store.current_shift("quay-1") is None
    assert nav.current == "closed"
    assert counter.actions() == [("shift_start", "le-thi-thu-ha"), ("shift_end", "le-thi-thu-ha")]


def test_wrong_pins_lock_the_officer_out_even_from_the_right_one(at_counter):
    counter, staff, nav = at_counter.counter, at_counter.staff, at_counter.counter.navigator
    staff.choose(StaffChoice.SHIFT)
    staff.officer_picked(counter.settings.officer("tran-van-hung"))
    words = CatalogueWords("vi")
    for left in (2, 1):
        at_counter.submit("0000")
        assert nav.screen("pin").message == words.tr("signin.wrong", left=left)
    at_counter.submit("0000")
    assert nav.screen("pin").message.startswith(words.tr("signin.locked", seconds=0)[:20])
    at_counter.submit(OFFICER_PIN)
    assert nav.current == "pin" and counter.store.current_shift("quay-1") is None
    assert counter.actions() == [("pin_lockout", "officer:tran-van-hung")]


def test_no_shifts_on_a_shared_tablet(shared):
    nav = shared.counter.navigator
    shared.visits.go_idle()
    shared.staff.open_signin()
    shared.staff.choose("shift")  # what an old kv file would pass
    assert nav.shown == ["choose"]


def test_the_staff_menu_stays_shut_during_a_visit(shared):
    nav = shared.counter.navigator
    shared.visits.choose_officer(shared.counter.settings.officer("nguyen-thi-lan"))
    shared.staff.open_staff()
    assert nav.current == "rate"
    shared.visits.end_visit()
    shared.staff.open_staff()
    assert nav.current == "staff"


def test_an_officer_sees_their_own_day(shared):
    counter, nav = shared.counter, shared.counter.navigator
    for score in (3, 3, 1):
        counter.desk.rate("le-thi-thu-ha", score)
    counter.desk.rate("tran-van-hung", 1)
    shared.staff.choose(StaffChoice.DAY)
    shared.staff.officer_picked(counter.settings.officer("le-thi-thu-ha"))
    assert nav.screen("pin").purpose is PinPurpose.DAY
    shared.submit(OFFICER_PIN)
    day = nav.screen("day")
    assert nav.current == "day" and day.officer.id == "le-thi-thu-ha"
    assert day.day.tally.total == 3
    assert day.level_labels == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]


def test_the_technician_pin_opens_the_panel_and_is_audited(shared):
    nav = shared.counter.navigator
    shared.staff.choose(StaffChoice.TECH)
    assert nav.screen("pin").officer is None and nav.screen("pin").purpose is PinPurpose.TECH
    shared.submit(TECHNICIAN_PIN)
    assert nav.current == "tech"
    assert shared.counter.actions() == [("technician_login", "technician")]


def test_a_new_pin_is_typed_twice_and_saved(shared, tmp_path):
    counter, nav = shared.counter, shared.counter.navigator
    officer = counter.settings.officer("vu-ngoc-anh")
    shared.technician.ask_new_pin(officer)
    assert nav.screen("pin").purpose is PinPurpose.NEW_PIN
    shared.submit("12")  # too short
    assert nav.screen("pin").message == CatalogueWords().tr("staff.pin_invalid")
    shared.submit("9753")
    assert nav.screen("pin").purpose is PinPurpose.NEW_PIN_AGAIN
    shared.submit("9999")
    assert nav.screen("pin").purpose is PinPurpose.NEW_PIN
    assert nav.screen("pin").message == CatalogueWords().tr("staff.pin_mismatch")
    shared.submit("9753")
    shared.submit("9753")
    assert nav.current == "tech" and nav.screen("tech").section == "officers"
    assert nav.screen("tech").message == CatalogueWords().tr("tech.saved")
    stored = load_settings(tmp_path / "config.yaml").officer("vu-ngoc-anh").pin_hash
    assert verify_pin("9753", stored) and not verify_pin(OFFICER_PIN, stored)
    assert verify_pin("9753", counter.settings.officer("vu-ngoc-anh").pin_hash)  # applied at once
    assert ("officer_pin_set", "technician") in counter.actions()


def test_an_officer_is_added_unless_the_server_decides_the_roster(shared, tmp_path):
    counter = shared.counter
    shared.locked[0] = True
    refusal = shared.technician.add_officer("Đinh Thị Hồng Nhung", "Công chức Văn hóa - Xã hội")
    assert refusal and counter.applied == []
    shared.locked[0] = False
    assert shared.technician.add_officer("Đinh Thị Hồng Nhung", "Công chức Văn hóa - Xã hội") == ""
    assert "dinh-thi-hong-nhung" in [o.id for o in counter.settings.officers]
    assert load_settings(tmp_path / "config.yaml").officer("dinh-thi-hong-nhung").title == "Công chức Văn hóa - Xã hội"
    assert counter.actions() == [("officer_add", "technician")]


def test_deactivating_an_officer_takes_them_off_the_grid(shared):
    counter = shared.counter
    shared.technician.toggle_active(counter.settings.officer("hoang-thi-mai"))
    assert "hoang-thi-mai" not in [o.id for o in counter.settings.active_officers]
    assert counter.navigator.screen("tech").message == CatalogueWords().tr("tech.saved")


def test_a_bad_setting_is_refused_and_not_written(shared, tmp_path):
    before = (tmp_path / "config.yaml").read_bytes()
    with pytest.raises(ConfigError) as refused:
        shared.technician.change_settings({"timeouts.thanks": 0})
    assert "timeouts.thanks" in shared.technician.describe_error(refused.value)
    assert (tmp_path / "config.yaml").read_bytes() == before
    assert shared.counter.applied == [] and shared.counter.actions() == []


def test_exit_is_audited_before_the_app_stops(shared):
    shared.technician.exit_kiosk()
    assert shared.stopped == [True]
    assert shared.counter.actions() == [("exit", "technician")]
