"""Shared fixtures. Kivy is configured for headless runs before anything imports it."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from kiosk.headless import configure

# Kivy reads these at import time: no window system, silent audio, no argv
# parsing, a private home.
_KIVY_HOME = tempfile.mkdtemp(prefix="hailong-kivy-home-")
os.environ["KIVY_HOME"] = _KIVY_HOME
configure(_KIVY_HOME)

import pytest  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_demo_tree() -> dict:
    """The demo config.yaml as a plain dict, for tests to change and write back."""
    with open(ROOT / "config.yaml", encoding="utf-8") as fh:
        tree = YAML(typ="safe").load(fh)
    # Tests follow a visit from the tap straight to the details: the
    # correction window (5 s in the demo) has tests of its own that set it.
    tree["correction"] = {"window_s": 0}
    return tree


def write_config(directory: Path, tree: dict) -> Path:
    """Write a config tree as config.yaml in ``directory``, with the demo portraits beside it."""
    portraits = directory / "assets" / "portraits"
    if not portraits.exists():
        shutil.copytree(ROOT / "assets" / "portraits", portraits)
    path = directory / "config.yaml"
    # Block style, no line folding: the pure emitter's folded flow style can
    # write long plain scalars (PIN hashes) that do not parse back.
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(tree, fh)
    return path


@pytest.fixture
def demo_tree() -> dict:
    """A fresh copy of the demo settings tree."""
    return load_demo_tree()


@pytest.fixture
def config_path(tmp_path: Path, demo_tree: dict) -> Path:
    """The demo config written into a temporary folder (its database goes there too)."""
    return write_config(tmp_path, demo_tree)


@pytest.fixture
def commune(tmp_path: Path):
    """A real commune server on loopback, on its own database."""
    from tests.sync_support import Commune

    with Commune(tmp_path) as running:
        yield running


@pytest.fixture
def tablet(tmp_path: Path, commune):
    """A tablet paired with ``commune`` through the real pairing flow."""
    from tests.sync_support import Tablet

    paired = Tablet(tmp_path / "tablet", commune.url)
    paired.pair(commune)
    yield paired
    paired.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the Kivy tests in one worker process and the OpenAPI fuzz in another.

    Under CPython 3.11.7, hypothesis' source inspection in the fuzz hits an
    "AST constructor recursion depth mismatch" once the same process has run the
    Kivy app; separate processes avoid it (and use both cores).
    """
    for item in items:
        name = item.path.name
        if name.startswith("test_kiosk_") or name == "test_screens.py":
            item.add_marker(pytest.mark.xdist_group("kivy"))
        elif name == "test_server_api.py":
            item.add_marker(pytest.mark.xdist_group("api"))
        elif item.path.parent.name == "web":  # one worker owns Chromium
            item.add_marker(pytest.mark.xdist_group("web"))
