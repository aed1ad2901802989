"""The screens are registered once; their kv files are found by name and
loaded once."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from kiosk.screens import SCREENS, kv_file, load_kv


def test_every_registered_screen_has_a_unique_name_and_its_kv_beside_it():
    names = [name for name, _cls in SCREENS]
    assert len(names) == len(set(names))
    for name, screen_class in SCREENS:
        assert issubclass(screen_class, Screen), name
        path = kv_file(screen_class)
        assert path.is_file() and path.stem == screen_class.__module__.rsplit(".", 1)[1], name
        assert f"<{screen_class.__name__}>" in path.read_text(encoding="utf-8")


def test_kv_files_are_loaded_once_widgets_first():
    load_kv()
    load_kv()
    loaded = [Path(f).resolve() for f in Builder.files]
    ours = [p for p in loaded if "kiosk" in p.parts]
    assert len(ours) == len(set(ours))
    assert {kv_file(cls).resolve() for _name, cls in SCREENS} <= set(ours)
    widgets_kv = [i for i, p in enumerate(ours) if p.parent.name == "widgets"]
    screens_kv = [i for i, p in enumerate(ours) if p.parent.name == "screens"]
    assert ours[0].name == "widgets.kv" and max(widgets_kv) < min(screens_kv)


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
