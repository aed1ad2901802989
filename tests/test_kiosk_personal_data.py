"""The citizen's number on the real Kivy app, headless, by simulated touches:
typed on the call-back screen, it is sealed to the server's key at once; the
rated officer's day shows only how many asked; the tablet's database files
and its exports hold no trace of the typed digits; the consent text names
who will call and how long the number is kept."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.headless import HeadlessKiosk
from sync.record import KIND_DETAILS
from tests.callback_support import give_server_key, open_number
from tests.conftest import write_config
from tests.test_kiosk_staff import enter_pin, open_staff, open_tech

PHONE = "0912345678"
OFFICER = "le-thi-thu-ha"  # PIN 2468 in the demo


@pytest.fixture
def make_kiosk(tmp_path: Path, demo_tree: dict) -> Callable[..., HeadlessKiosk]:
    started: list[HeadlessKiosk] = []

    def start(*, paired: bool = True, leaders: str = "") -> HeadlessKiosk:
        demo_tree["rating"]["burst_interval_s"] = 0
        demo_tree["attribution"]["mode"] = "counter"
        if leaders:
            demo_tree["commune"]["leaders"] = leaders
        kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)))
        if paired:
            give_server_key(kiosk.app.store)
        started.append(kiosk)
        return kiosk

    yield start
    for kiosk in started:
        kiosk.close()


def _texts(screen) -> str:
    return "\n".join(str(getattr(w, "text", "") or "") for w in screen.walk())


def _traces(text: str) -> list[str]:
    """Every way the typed number could show: whole, grouped, or six of its digits in a row."""
    found = [form for form in (PHONE, "0912 345 678", "0912.345.678") if form in text]
    compact = "".join(ch for ch in text if ch.isdigit() or ch == "\n")
    found += [PHONE[i:i + 6] for i in range(len(PHONE) - 5) if PHONE[i:i + 6] in compact]
    return found


def _citizen_asks_for_a_call_back(kiosk: HeadlessKiosk) -> None:
    kiosk.app.desk.sign_in(OFFICER)
    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.faces()[-1])
    # A screen confirming the tap may come first, then the reasons.
    assert kiosk.wait_until(lambda: kiosk.screen.name == "reasons", timeout=15)
    assert kiosk.screen.ids.callback.opacity == 1 and not kiosk.screen.ids.callback.disabled
    kiosk.tap(kiosk.screen.ids.callback)
    assert kiosk.screen.name == "callback"
    kiosk.type_digits(kiosk.screen.ids.keypad, PHONE)
    assert kiosk.screen.ids.send.disabled  # no consent yet
    kiosk.tap(kiosk.screen.ids.consent)
    assert not kiosk.screen.ids.send.disabled
    kiosk.tap(kiosk.screen.ids.send)
    assert kiosk.screen.name == "thanks" and kiosk.screen.callback_noted


def test_the_number_is_sealed_and_the_officers_day_shows_only_a_count(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    _citizen_asks_for_a_call_back(kiosk)
    store = kiosk.app.store
    [details] = [r for r in store.records() if r.kind == KIND_DETAILS]
    assert details.callback_phone is None and details.callback_box
    # Only the server's private key opens it; the tablet holds the sealed key until it is sent.
    assert open_number(details, store.callback_keys.sealed_for([details.uuid])[details.uuid]) == PHONE
    # The screen that took the number forgot it.
    assert kiosk.app.visits.visit.phone == "" and kiosk.app.root.get_screen("callback").ids.keypad.value == ""

    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    open_staff(kiosk)
    kiosk.tap(kiosk.screen.ids.my_day)
    card = [c for c in kiosk.screen.cards() if c.officer.id == OFFICER][0]
    kiosk.tap(card)
    enter_pin(kiosk, "2468")
    assert kiosk.screen.name == "day"
    assert kiosk.screen.ids.callbacks.text == kiosk.app.tr("day.callbacks_count", count=1)
    assert _traces(_texts(kiosk.screen)) == []
    kiosk.tap(kiosk.screen.ids.days_30)
    assert _traces(_texts(kiosk.screen)) == []

    # Neither the database's files nor the exports hold the digits.
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [p for p in store.path.parent.iterdir() if p.is_file()]
    assert store.path in files
    for path in files:
        data = path.read_bytes()
        assert PHONE.encode() not in data and PHONE.encode("utf-16-le") not in data, path.name
    usb = tmp_path / "usb"
    usb.mkdir()
    open_tech(kiosk)
    kiosk.screen.open_section("data")
    kiosk.screen.choose_folder(str(usb))
    kiosk.tap(kiosk.screen.ids.export)
    assert kiosk.wait_until(lambda: not kiosk.screen.exporting, timeout=20)
    exported = sorted(usb.iterdir())
    assert [p.suffix for p in exported] == [".csv", ".xlsx"]
    for path in exported:
        assert PHONE.encode() not in path.read_bytes()
        assert path.stat().st_mode & 0o777 == 0o600  # owner only
    with open(exported[0], encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    column = rows[0].index(kiosk.app.tr("export.col_callback_requested"))
    assert [row[column] for row in rows[1:]] == [kiosk.app.tr("export.yes")]


def test_no_call_back_is_offered_before_the_tablet_holds_the_servers_key(make_kiosk):
    kiosk = make_kiosk(paired=False)
    kiosk.app.desk.sign_in(OFFICER)
    kiosk.app.visits.go_idle()
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.faces()[-1])
    assert kiosk.wait_until(lambda: kiosk.screen.name == "reasons", timeout=15)
    button = kiosk.screen.ids.callback
    assert button.disabled and button.opacity == 0
    kiosk.tap(button)
    assert kiosk.screen.name == "reasons"


def test_the_consent_text_names_who_calls_why_and_for_how_long(make_kiosk):
    kiosk = make_kiosk(leaders="Chủ tịch UBND Nguyễn Văn Bình")
    screen = kiosk.app.root.get_screen("callback")
    words = screen.ids.consent.text
    assert "Chủ tịch UBND Nguyễn Văn Bình" in words and "12 tháng" in words and "mã hóa" in words
    kiosk.app.set_language("en")
    kiosk.pump(2)
    assert "12 months" in screen.ids.consent.text and "Nguyễn Văn Bình" in screen.ids.consent.text
