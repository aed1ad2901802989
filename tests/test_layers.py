"""The import rules hold, and they would catch a break: the contracts in
setup.cfg are checked by import-linter on this tree and on a copy of it with
one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--config", str(tree / "setup.cfg"), "--no-cache"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in ("sync", "kiosk", "server"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    shutil.copy(ROOT / "setup.cfg", tree / "setup.cfg")
    return tree


def test_the_tree_keeps_every_import_rule() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# One forbidden import per contract, each in a module the contract covers.
VIOLATIONS = [
    ("server/roster.py", "from kiosk.config import parse_settings", "The server never imports the tablet"),
    ("sync/record.py", "import kiosk.store", "sync/ is the contract"),
    ("kiosk/desk.py", "from server import schemas", "The tablet never imports the server"),
    ("kiosk/store/__init__.py", "from kivy.clock import Clock", "run without Kivy"),
]


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    for module, line, _ in VIOLATIONS:
        path = tree / module
        path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # deliberately forbidden\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    for _, _, contract in VIOLATIONS:
        assert any(contract in line for line in broken), (contract, result.stdout)
    assert "0 kept, 4 broken" in result.stdout


def test_the_contract_may_not_lean_on_a_framework(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    path = tree / "sync" / "wire.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nimport pydantic  # deliberately forbidden\n",
                    encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    # Broken for the contract itself, and so for the tablet that imports it.
    assert "sync/ is the contract: it imports neither end, nor any framework BROKEN" in result.stdout, result.stdout


def test_the_contract_imports_nothing_but_the_standard_library() -> None:
    """sync/ must build for Android with python-for-android: no third-party
    import at all, checked on the source itself."""
    import ast

    allowed = set(sys.stdlib_module_names) | {"sync"}
    for path in sorted((ROOT / "sync").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
