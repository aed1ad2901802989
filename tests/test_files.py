"""Atomic, durable file replacement (kiosk/files.py)."""

from __future__ import annotations

import os
import stat

import pytest

from kiosk.files import write_atomically


def test_replaces_content_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "config.yaml"
    target.write_text("old")
    write_atomically(target, "mới".encode())
    assert target.read_text(encoding="utf-8") == "mới"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_keeps_the_old_permissions_or_sets_the_given_ones(tmp_path):
    target = tmp_path / "config.yaml"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_atomically(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    secret = tmp_path / "device-secret.json"
    write_atomically(secret, b"{}", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "roster.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk pulled")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomically(target, b"new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.json"]
