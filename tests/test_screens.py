"""The screens are registered once; their kv files are found by name and
loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from kiosk.screens import SCREENS, kv_file, load_kv, screen_class


def test_every_registered_screen_has_a_unique_name_and_its_kv_beside_it():
    names = [name for name, _class_name in SCREENS]
    assert len(names) == len(set(names))
    for name, class_name in SCREENS:
        cls = screen_class(name)
        assert issubclass(cls, Screen) and cls.__name__ == class_name, name
        assert cls.__module__ == f"kiosk.screens.{name}", name
        path = kv_file(name)
        assert path.is_file() and path.stem == name and path.parent.name == "screens", name
        assert f"<{class_name}>" in path.read_text(encoding="utf-8")


def test_kv_files_are_loaded_once_each_after_the_ones_it_builds_on():
    load_kv()
    load_kv()
    loaded = [Path(f).resolve() for f in Builder.files]
    ours = [p for p in loaded if "kiosk" in p.parts]
    assert len(ours) == len(set(ours))
    widgets = Path(kv_file("rate")).resolve().parents[1] / "widgets"
    assert {kv_file(name).resolve() for name, _class_name in SCREENS} <= set(ours)
    assert {p.resolve() for p in widgets.glob("*.kv")} <= set(ours)
    # The shared look first; a widget's own kv file before the screens built with it.
    assert ours[0] == widgets / "widgets.kv"
    assert ours.index(widgets / "letters.kv") < ours.index(kv_file("survey_question").resolve())
    assert ours.index(widgets / "settings.kv") < ours.index(kv_file("tech").resolve())


def test_the_apps_long_lived_objects_are_kept_out_of_full_collections(tmp_path, demo_tree):
    """A full pass of the garbage collector over everything the app holds took
    40–130 ms, a visibly stuck frame: the app freezes what it built (at start,
    then once every screen is built), and a closed app gives it back."""
    import gc

    from kiosk.config import load_settings
    from kiosk.headless import HeadlessKiosk
    from kiosk.screens import ON_DEMAND, REST_AFTER_S
    from tests.conftest import write_config

    gc.unfreeze()
    kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)))
    try:
        at_start = gc.get_freeze_count()
        assert at_start > 10_000
        assert gc.isenabled()  # held off while the idle screen was built, on again once frozen
        assert kiosk.wait_until(lambda: kiosk.app.root.complete, timeout=REST_AFTER_S + 20)
        kiosk.pump(2)
        assert gc.get_freeze_count() > at_start  # the screens built after start joined them
        # The staff's screens wait until first opened, then are built at once.
        assert not any(kiosk.app.root.has_screen(name) for name in ON_DEMAND)
        assert kiosk.app.root.get_screen("tech").name == "tech"
        kiosk.pump(2)
    finally:
        kiosk.close()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("mode", ["choose", "officer"])
def test_a_tap_right_after_start_records_a_rating(tmp_path, demo_tree, monkeypatch, mode):
    """A cold start builds only the idle screen; whatever a citizen taps in
    the very first frames is built then and there, and the tap on a face is
    recorded at once, in the language chosen before that screen existed."""
    import kiosk.screens
    from kiosk.config import load_settings
    from kiosk.headless import HeadlessKiosk
    from sync.record import KIND_RATING
    from tests.conftest import write_config

    # Nothing is built in the background during this test: only what the taps ask for.
    monkeypatch.setattr(kiosk.screens, "REST_AFTER_S", 3600.0)
    demo_tree["attribution"] = {"mode": mode, "officer": "tran-van-hung"} if mode == "officer" else {"mode": mode}
    kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)))
    try:
        idle = "choose" if mode == "choose" else "rate"
        assert kiosk.screen.name == idle
        assert [screen.name for screen in kiosk.app.root.screens] == [idle]
        switch = [w for w in kiosk.screen.walk() if getattr(w, "text", "") == "English"][0]
        kiosk.tap(switch)
        officer = kiosk.app.settings.active_officers[0] if mode == "choose" else kiosk.app.desk.officer_on_duty()
        if mode == "choose":
            kiosk.tap(kiosk.screen.cards()[0])
            assert kiosk.screen.name == "rate"
        assert [face.label for face in kiosk.screen.faces()] == ["Very satisfied", "Satisfied", "Dissatisfied"]
        kiosk.tap(kiosk.screen.faces()[0])
        [rating] = [r for r in kiosk.app.store.records() if r.kind == KIND_RATING]
        assert rating.officer_id == officer.id and rating.score == kiosk.app.desk.scale.best_first[0].score
        assert kiosk.screen.name in ("recorded", "reasons", "thanks")
        assert not kiosk.app.root.complete  # all of it before the background building began
    finally:
        kiosk.close()


def test_a_start_that_fails_leaves_the_collector_on(tmp_path, demo_tree):
    """The app holds the garbage collector off while it starts: a database
    that cannot be opened stops the start, and collections go on."""
    import dataclasses
    import gc

    from kiosk.app import KioskApp
    from kiosk.config import load_settings
    from kiosk.store import StoreError
    from tests.conftest import write_config

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    settings = dataclasses.replace(load_settings(write_config(tmp_path, demo_tree)), database=broken)
    with pytest.raises(StoreError):
        KioskApp(settings)
    assert gc.isenabled()


def test_the_officers_grid_is_built_in_the_background_only_where_it_is_the_idle_screen(tmp_path, demo_tree,
                                                                                       monkeypatch):
    """Building the officers' grid takes too long for a frame at rest: a
    counter that does not rest on it builds it only if switched to choose mode."""
    import dataclasses

    import kiosk.screens
    from kiosk.config import AttributionMode, load_settings
    from kiosk.headless import HeadlessKiosk
    from tests.conftest import write_config

    monkeypatch.setattr(kiosk.screens, "REST_AFTER_S", 0.1)
    demo_tree["attribution"] = {"mode": "officer", "officer": "tran-van-hung"}
    kiosk = HeadlessKiosk(load_settings(write_config(tmp_path, demo_tree)))
    try:
        assert kiosk.wait_until(lambda: kiosk.app.root.complete, timeout=20)
        kiosk.pump(2)
        assert kiosk.app.root.has_screen("thanks") and not kiosk.app.root.has_screen("choose")
        kiosk.app.apply_settings(dataclasses.replace(kiosk.app.settings, mode=AttributionMode.CHOOSE))
        kiosk.app.visits.go_idle()
        kiosk.pump(2)
        assert kiosk.screen.name == "choose"
        assert [card.officer.id for card in kiosk.screen.cards()] == [o.id for o in kiosk.app.settings.active_officers]
    finally:
        kiosk.close()
