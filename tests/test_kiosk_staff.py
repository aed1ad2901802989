"""Behind the hidden entry, on the real app: the officer's day and the
technician's panel, driven by simulated touches."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.headless import HeadlessKiosk
from kiosk.pin import verify_pin
from kiosk.widgets.hidden import LongPressArea
from sync.record import KIND_RATING
from tests.callback_support import give_server_key
from tests.conftest import write_config


@pytest.fixture
def make_kiosk(tmp_path: Path, demo_tree: dict) -> Callable[..., HeadlessKiosk]:
    started: list[HeadlessKiosk] = []

    def start(change: Callable[[dict], None] | None = None, size=(1280, 800)) -> HeadlessKiosk:
        if change is not None:
            change(demo_tree)
        demo_tree["rating"]["burst_interval_s"] = 0
        settings = load_settings(write_config(tmp_path, demo_tree))
        kiosk = HeadlessKiosk(settings, size=size)
        started.append(kiosk)
        return kiosk

    yield start
    for kiosk in started:
        kiosk.close()


def open_staff(kiosk: HeadlessKiosk, *, long_press: bool = False) -> None:
    """The hidden entry; the long press itself (2 s) only where it is the point."""
    if long_press:
        kiosk.settle()
        entry = [w for w in kiosk.screen.walk() if isinstance(w, LongPressArea)][0]
        # Held well past its 2 s: on a busy machine a frame can come late.
        kiosk.long_press(entry, entry.hold_s + 0.8)
    else:
        kiosk.app.staff.open_staff()
        kiosk.pump(2)
    # The screen change may take a few frames more when the machine is busy.
    assert kiosk.wait_until(lambda: kiosk.screen.name == "staff", timeout=5), kiosk.screen.name


def enter_pin(kiosk: HeadlessKiosk, pin: str) -> None:
    assert kiosk.screen.name == "pin"
    kiosk.type_digits(kiosk.screen.ids.pin, pin)
    kiosk.tap(kiosk.screen.ids.submit)


def test_officer_sees_only_their_own_day(make_kiosk):
    kiosk = make_kiosk()
    desk = kiosk.app.desk
    give_server_key(kiosk.app.store)  # paired: it takes call-back numbers
    mine = [desk.rate("le-thi-thu-ha", s) for s in (3, 3, 2, 1)]
    desk.add_details(mine[3], ["waited_long", "come_back"], "0912345678", consent=True)
    for _ in range(5):
        desk.rate("tran-van-hung", 1)  # someone else's ratings never show

    open_staff(kiosk, long_press=True)
    kiosk.tap(kiosk.screen.ids.my_day)
    assert kiosk.screen.name == "signin"
    card = [c for c in kiosk.screen.cards() if c.officer.id == "le-thi-thu-ha"][0]
    kiosk.tap(card)
    enter_pin(kiosk, "2468")
    assert kiosk.screen.name == "day"
    screen = kiosk.screen
    assert screen.officer.id == "le-thi-thu-ha"
    assert screen.ids.count.text == "4"
    assert screen.ids.rate.text == "75%"
    bars = {bar.label: bar.count for bar in screen.ids.levels.children}
    assert bars == {"Rất hài lòng": 2, "Hài lòng": 1, "Không hài lòng": 1}
    assert "Phải chờ quá lâu: 1" in screen.ids.reasons.text
    # How many asked for a call-back, never who nor the number.
    assert screen.ids.callbacks.text == kiosk.app.tr("day.callbacks_count", count=1)
    assert "345" not in screen.ids.callbacks.text
    # Four ratings are too few to judge by, and the screen says so.
    assert "4" in screen.ids.too_few.text and screen.ids.too_few.text
    assert screen.ids.chart.points[-1][1:] == (4, 0.75)
    kiosk.tap(screen.ids.days_30)
    assert len(screen.ids.chart.points) == 30


def test_technician_pin_locks_out_and_is_audited(make_kiosk):
    kiosk = make_kiosk(lambda t: t["security"].update(pin_attempts=2))
    open_staff(kiosk)
    kiosk.tap(kiosk.screen.ids.technician)
    enter_pin(kiosk, "0000")
    assert kiosk.screen.message == kiosk.app.tr("signin.wrong", left=1)
    enter_pin(kiosk, "0001")
    enter_pin(kiosk, "1357")  # right, but locked now
    assert kiosk.screen.name == "pin"
    actions = [(e["action"], e["actor"]) for e in kiosk.app.store.audit_log()]
    assert ("pin_lockout", "technician") in actions


def open_tech(kiosk: HeadlessKiosk) -> None:
    open_staff(kiosk)
    kiosk.tap(kiosk.screen.ids.technician)
    enter_pin(kiosk, "1357")
    assert kiosk.screen.name == "tech"


def setting_item(kiosk: HeadlessKiosk, key: str):
    from kivy.uix.settings import SettingItem

    # The sidebar shows one panel at a time: look through all of them.
    settings = kiosk.screen.ids.settings_holder.children[0]
    panels = settings.interface.content.panels.values()
    items = [w for p in panels for w in p.walk() if isinstance(w, SettingItem) and w.key == key]
    assert items, key
    return items[0]


def test_a_setting_is_validated_written_applied_and_survives_a_restart(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    open_tech(kiosk)
    item = setting_item(kiosk, "commune_name")
    # What the string editor's OK button does with the text typed.
    item.value = "UBND xã Tân Lập"
    kiosk.pump(2)
    assert kiosk.screen.message == kiosk.app.tr("tech.saved")
    assert kiosk.app.commune_name == "UBND xã Tân Lập"
    assert load_settings(tmp_path / "config.yaml").commune_name == "UBND xã Tân Lập"
    assert ("settings_change", "technician") in [(e["action"], e["actor"]) for e in kiosk.app.store.audit_log()]
    # A new start reads the same file.
    kiosk.close()
    again = HeadlessKiosk(load_settings(tmp_path / "config.yaml"))
    try:
        assert again.app.commune_name == "UBND xã Tân Lập"
    finally:
        again.close()


def test_a_bad_setting_is_refused_and_nothing_is_written(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    before = (tmp_path / "config.yaml").read_bytes()
    open_tech(kiosk)
    setting_item(kiosk, "thanks").value = "0"
    kiosk.pump(3)
    assert kiosk.screen.message.startswith(kiosk.app.tr("tech.refused", problem="")[:8])
    assert "timeouts.thanks" in kiosk.screen.message
    assert (tmp_path / "config.yaml").read_bytes() == before
    assert kiosk.app.settings.timeouts.thanks == 20
    # The panel shows the value in force again.
    assert setting_item(kiosk, "thanks").value == "20"


def test_scale_change_applies_without_restart(make_kiosk):
    kiosk = make_kiosk(lambda t: t["attribution"].update(mode="officer", officer="hoang-thi-mai"))
    open_tech(kiosk)
    setting_item(kiosk, "scale").value = "5"
    kiosk.pump(2)
    kiosk.tap(kiosk.screen.ids.back)
    assert kiosk.screen.name == "rate"
    assert [f.level for f in kiosk.screen.faces()][2] == "neutral"
    kiosk.tap(kiosk.screen.faces()[2])
    assert kiosk.app.store.last_rating().scale == 5


def test_technician_sets_an_officer_pin_with_the_keypad(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    open_tech(kiosk)
    kiosk.tap([b for b in kiosk.screen.walk() if getattr(b, "text", "") == kiosk.app.tr("tech.officers")][0])
    row = kiosk.screen.ids.officer_rows.children[-1]  # the first officer
    officer_id = row.officer.id
    pin_button = [b for b in row.walk() if getattr(b, "text", "") == kiosk.app.tr("tech.set_pin")][0]
    kiosk.tap(pin_button)
    enter_pin(kiosk, "9753")
    enter_pin(kiosk, "9999")  # a different repeat is refused
    assert kiosk.screen.message == kiosk.app.tr("staff.pin_mismatch")
    enter_pin(kiosk, "9753")
    enter_pin(kiosk, "9753")
    assert kiosk.screen.name == "tech"
    stored = load_settings(tmp_path / "config.yaml").officer(officer_id).pin_hash
    assert verify_pin("9753", stored) and not verify_pin("2468", stored)


def test_technician_deactivates_an_officer(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    open_tech(kiosk)
    kiosk.screen.open_section("officers")
    kiosk.pump(2)
    row = kiosk.screen.ids.officer_rows.children[-2]
    officer_id = row.officer.id
    off = [b for b in row.walk() if getattr(b, "text", "") == kiosk.app.tr("tech.deactivate")][0]
    kiosk.tap(off)
    assert load_settings(tmp_path / "config.yaml").officer(officer_id).active is False
    assert officer_id not in [o.id for o in kiosk.app.settings.active_officers]
    # The citizens' officer grid no longer offers them.
    assert officer_id not in [c.officer.id for c in kiosk.app.root.get_screen("choose").cards()]


def test_export_row_count_equals_the_store(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    for score in (1, 2, 3, 3, 2):
        kiosk.app.desk.rate("nguyen-thi-lan", score)
    folder = tmp_path / "usb"
    folder.mkdir()
    open_tech(kiosk)
    kiosk.screen.open_section("data")
    kiosk.screen.choose_folder(str(folder))
    kiosk.tap(kiosk.screen.ids.export)
    assert kiosk.wait_until(lambda: not kiosk.screen.exporting, timeout=20)
    assert kiosk.screen.export_progress == 1.0, kiosk.screen.export_text
    csv_files = list(folder.glob("*.csv"))
    assert len(csv_files) == 1 and list(folder.glob("*.xlsx"))
    with open(csv_files[0], encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) - 1 == kiosk.app.store.count(KIND_RATING) == 5
    assert str(5) in kiosk.screen.export_text


def test_health_shows_an_intact_chain(make_kiosk):
    kiosk = make_kiosk()
    kiosk.app.desk.rate("nguyen-thi-lan", 3)
    open_tech(kiosk)
    kiosk.screen.open_section("health")
    assert kiosk.wait_until(lambda: kiosk.app.tr("tech.chain_ok") in kiosk.screen.health_text, timeout=10)
    assert kiosk.app.tr("tech.records", count=1) in kiosk.screen.health_text
    # Not paired: its records are not sealed, and the panel says so.
    assert kiosk.app.tr("tech.unsealed_warning") in kiosk.screen.health_text


def test_exit_only_from_the_technician_panel(make_kiosk):
    kiosk = make_kiosk(lambda t: t["display"].update(fullscreen=True))
    # A citizen's attempt to close the window is refused.
    assert kiosk.app._refuse_close() is True
    open_tech(kiosk)
    kiosk.screen.open_section("exit")
    stopped = []
    kiosk.app.bind(on_stop=lambda *_: stopped.append(True))
    kiosk.tap(kiosk.screen.ids.exit)
    assert stopped == [True]
    assert ("exit", "technician") in [(e["action"], e["actor"]) for e in kiosk.app.store.audit_log()]


def test_paired_tablet_applies_the_server_roster_without_restart(make_kiosk, tmp_path):
    """Pair from the technician's panel with a real server on loopback; the
    roster it pushes replaces the officers and locks them on the tablet."""
    from ruamel.yaml import YAML

    from server.roster import RosterStore
    from tests.conftest import load_demo_tree
    from tests.sync_support import Commune

    with Commune(tmp_path / "commune") as commune:
        kiosk = make_kiosk(lambda t: t["server"].update(url=commune.url))
        tree = load_demo_tree()
        tree["commune"]["name"] = "UBND xã Tân Lập"
        tree["officers"] = tree["officers"][:2]
        tree["counters"] = [{"id": "quay-1", "name": "Quầy số 1"}]
        roster_path = tmp_path / "roster.yaml"
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.width = 4096
        with open(roster_path, "w", encoding="utf-8") as fh:
            yaml.dump(tree, fh)
        RosterStore(commune.engine).import_file(roster_path)

        open_tech(kiosk)
        kiosk.screen.open_section("pairing")
        # Not paired yet: its records are not sealed, and the panel says so.
        assert kiosk.app.tr("tech.unsealed_warning") in kiosk.screen.pairing_text
        kiosk.tap(kiosk.screen.ids.pair)
        assert kiosk.wait_until(lambda: kiosk.screen.pairing_url != "", timeout=10), kiosk.screen.pairing_text
        code = kiosk.screen.pairing_text.split(":")[1].split()[0]
        commune.registry.decide(code, approve=True)
        assert kiosk.wait_until(lambda: kiosk.app.commune_name == "UBND xã Tân Lập", timeout=20)
        assert kiosk.screen.pairing_text == kiosk.app.tr("tech.pair_done")
        assert kiosk.app.store.seal_keys.state().registered  # the first sealing key reached the server
        assert [o.id for o in kiosk.app.settings.officers] == [o["id"] for o in tree["officers"]]
        assert kiosk.app.sync.roster_from_server
        kiosk.screen.open_section("officers")
        assert kiosk.screen.roster_locked
        kiosk.screen.open_section("settings")
        assert setting_item(kiosk, "commune_name").disabled  # the roster decides it
        assert not setting_item(kiosk, "server_url").disabled
        # The tablet's ratings reach the server too.
        kiosk.app.desk.rate(tree["officers"][0]["id"], 3)
        kiosk.app.sync.sync_now()
        assert kiosk.wait_until(lambda: kiosk.app.store.pending_count() == 0, timeout=20)
        assert kiosk.app.store.records()[-1].seal  # sealed, and the server found nothing wrong with it
        health = commune.registry.health(kiosk.app.store.device_id)[0]
        assert health["findings"] == [] and health["sealed_from_seq"] == 1
        kiosk.app.sync.stop()


def _open_dialog(kiosk, cls):
    from kivy.core.window import Window

    dialogs = [w for w in Window.children if isinstance(w, cls)]
    assert dialogs, cls.__name__
    return dialogs[0]


def test_technician_adds_an_officer_through_the_dialog(make_kiosk, tmp_path):
    from kiosk.widgets.dialogs import AddOfficerDialog

    kiosk = make_kiosk()
    open_tech(kiosk)
    kiosk.screen.open_section("officers")
    kiosk.tap(kiosk.screen.ids.add_officer)
    dialog = _open_dialog(kiosk, AddOfficerDialog)
    dialog.ids.name.text = "Đinh Thị Hồng Nhung"  # what the on-screen keyboard types
    dialog.ids.title_input.text = "Công chức Văn hóa - Xã hội"
    kiosk.tap(dialog.ids.save)
    saved = load_settings(tmp_path / "config.yaml")
    added = saved.officer("dinh-thi-hong-nhung")
    assert added.title == "Công chức Văn hóa - Xã hội" and added.photo.is_file()
    assert "dinh-thi-hong-nhung" in [c.officer.id for c in kiosk.app.root.get_screen("choose").cards()]


def test_technician_sets_a_portrait_from_a_file(make_kiosk, tmp_path):
    from kiosk.portraits import draw_portrait
    from kiosk.widgets.dialogs import PathDialog

    picture = tmp_path / "usb" / "anh-moi.png"
    draw_portrait("Ảnh Mới", picture)
    kiosk = make_kiosk()
    open_tech(kiosk)
    kiosk.screen.open_section("officers")
    kiosk.pump(2)
    row = kiosk.screen.ids.officer_rows.children[-1]
    officer_id = row.officer.id
    before = (tmp_path / "assets" / "portraits" / f"{officer_id}.png").read_bytes()
    kiosk.tap([b for b in row.walk() if getattr(b, "text", "") == kiosk.app.tr("tech.photo")][0])
    dialog = _open_dialog(kiosk, PathDialog)
    chooser = dialog.ids.chooser
    chooser.path = str(picture.parent)
    chooser.selection = [str(picture)]  # what a tap on the file does
    kiosk.tap(dialog.ids.pick)
    after = load_settings(tmp_path / "config.yaml").officer(officer_id).photo
    assert after.read_bytes() != before
    assert kiosk.screen.message == kiosk.app.tr("tech.saved")


def test_the_voice_switch_on_the_panel_turns_the_spoken_prompts_on_at_once(make_kiosk, tmp_path):
    kiosk = make_kiosk()
    assert kiosk.app.voice.say("thanks", "vi") is False  # off by default
    open_tech(kiosk)
    item = setting_item(kiosk, "voice")
    item.value = "1"  # what the switch does when flipped
    kiosk.pump(2)
    assert kiosk.screen.message == kiosk.app.tr("tech.saved")
    assert load_settings(tmp_path / "config.yaml").voice.enabled is True
    assert kiosk.app.voice.say("thanks", "vi") is True
    kiosk.app.voice.stop()
