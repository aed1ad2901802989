"""What each deployable installs: setup.cfg's extras, and buildozer.spec's
requirements for the Android build, which must not drift from them."""

from __future__ import annotations

import configparser
import re
from importlib import metadata

from tests.conftest import ROOT

# python-for-android recipes: built by p4a itself, with their own dependencies.
RECIPES = {"python3", "kivy", "sqlite3", "pillow", "pynacl"}
# Dependencies deliberately left out of the APK, and why.
LEFT_OUT = {
    "ruamel-yaml-clib": "a C extension; ruamel.yaml falls back to its pure-Python loader",
    "pip": "sqlite-utils needs it only for its plugin installer, never on a tablet",
}


def _name(requirement: str) -> str:
    """A requirement's project name, normalised (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _extras() -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    section = parser["options.extras_require"]
    return {key: [line for line in section[key].splitlines() if line.strip()] for key in section}


def _buildozer() -> dict[str, str]:
    """buildozer.spec's requirements: normalised name → the entry as written."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "buildozer.spec", encoding="utf-8")
    entries = [e.strip() for e in parser["app"]["requirements"].replace("\n", "").split(",") if e.strip()]
    return {_name(e): e for e in entries}


def _runtime_dependencies(project: str) -> set[str]:
    """A project's own dependencies, as installed here, without optional extras."""
    found = set()
    for requirement in metadata.requires(project) or []:
        if "extra ==" in requirement:
            continue
        if ";" in requirement and "python_version" not in requirement:
            continue  # platform-specific markers (Windows, PyPy): not on Android
        found.add(_name(requirement))
    return found


def test_the_kiosk_extra_and_buildozer_list_the_same_packages() -> None:
    kiosk = {_name(r): r for r in _extras()["kiosk"]}
    apk = _buildozer()
    missing = sorted(set(kiosk) - set(apk))
    assert missing == [], f"in setup.cfg's kiosk extra but not in buildozer.spec: {missing}"
    for name, requirement in kiosk.items():
        pin = re.search(r"==\s*([\w.]+)", requirement)
        if pin:
            assert f"=={pin.group(1)}" in apk[name].replace(" ", ""), f"{name}: pinned {pin.group(1)} in setup.cfg"


def _needed_on_the_tablet() -> set[str]:
    """The kiosk extra's packages and, down the tree, everything they need
    that no recipe builds and that is not deliberately left out."""
    needed, todo = set(), [_name(r) for r in _extras()["kiosk"]]
    while todo:
        name = todo.pop()
        if name in needed or name in RECIPES or name in LEFT_OUT:
            continue
        needed.add(name)
        todo.extend(_runtime_dependencies(name))
    return needed


def test_buildozer_carries_every_pure_python_dependency() -> None:
    """p4a does not resolve dependencies: every package the kiosk's packages
    need at run time is listed, unless a recipe builds it."""
    assert sorted(_needed_on_the_tablet() - set(_buildozer())) == []


def test_buildozer_lists_nothing_the_tablet_does_not_need() -> None:
    extra = sorted(set(_buildozer()) - _needed_on_the_tablet() - RECIPES)
    assert extra == [], f"in buildozer.spec but needed by no kiosk package: {extra}"
    server_only = {_name(r) for r in _extras()["server"]} - _needed_on_the_tablet() - RECIPES
    assert {"fastapi", "sqlalchemy"} <= server_only
    assert not (server_only & set(_buildozer()))
