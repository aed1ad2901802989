"""What a cold start pays for: the kiosk's start imports what the idle screen
needs and leaves the rest until first used. Not a timing (the figure is
``bench/cold_start.py``'s): a check that nothing slow creeps back in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, write_config

_START = """
import sys
from kiosk.headless import configure
configure()
from kiosk.config import load_settings
from kiosk.headless import HeadlessKiosk
kiosk = HeadlessKiosk(load_settings(sys.argv[1]))
assert kiosk.screen.name == "choose", kiosk.screen.name
from pathlib import Path
from kivy.lang import Builder
print("\\n".join(sorted(sys.modules)))
print("\\n".join("kv:" + "/".join(Path(f).parts[-2:]) for f in Builder.files if "kiosk" in Path(f).parts))
"""

# Each is first needed later: migrations (sqlite-utils), the server
# (requests, the wire shapes), a call-back (NaCl), the thank-you screen
# (qrcode), the technician's panel (Kivy's settings).
LATER = ("sqlite_utils", "requests", "sync.wire", "nacl", "qrcode", "kivy.uix.settings")


def _modules_after_start(config: Path, kivy_home: Path) -> set[str]:
    env = dict(os.environ, KIVY_HOME=str(kivy_home))
    out = subprocess.run([sys.executable, "-c", _START, str(config)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


def test_a_restart_imports_only_what_the_idle_screen_needs(tmp_path, demo_tree):
    config = write_config(tmp_path, demo_tree)
    first = _modules_after_start(config, tmp_path / "kivy")
    assert "sqlite_utils" in first  # a new file: its schema is made by the migrations
    again = _modules_after_start(config, tmp_path / "kivy")  # as a counter's kiosk restarts
    assert "kiosk.app" in again and "kiosk.screens.choose" in again
    assert [name for name in sorted(again) if name.split(".")[0] in LATER or name in LATER] == []
    screens = {name for name in again if name.startswith("kiosk.screens.")}
    assert screens == {"kiosk.screens.base", "kiosk.screens.choose"}
    # The shared look and the idle screen's: not the letters keyboard's, the dialogs' or the settings'.
    assert {name for name in again if name.startswith("kv:")} == {"kv:widgets/widgets.kv", "kv:screens/choose.kv"}
