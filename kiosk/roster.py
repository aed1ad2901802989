"""The roster the commune server pushes, laid over this tablet's own settings.

The server decides the commune's name and hotline, the officers (with their
portraits and PIN hashes), the reasons and the commune-wide settings (scale,
working hours, timeouts, language). The tablet keeps what is its own: its
counter, attribution mode, display, server address, technician PIN, storage
and security. The result is checked with the same rules as ``config.yaml``; a
roster that would break the tablet is not applied, and the tablet goes on with
what it had. Kivy-free.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.config import ConfigError, Settings, parse_settings
from sync.roster import COMMUNE_KEYS

__all__ = ["settings_with_roster", "try_settings_with_roster"]


def settings_with_roster(settings: Settings, roster: dict[str, Any]) -> Settings:
    """``settings`` with the roster's officers, reasons and commune settings.

    Raises :class:`ConfigError` (naming the key) when the merged settings are
    not valid, e.g. when the tablet's own officer is no longer on the roster.
    """
    tree = deepcopy(settings.raw)
    commune = roster.get("commune") or {}
    tree["commune"] = {k: v for k, v in commune.items() if k in ("name", "hotline", "leaders") and v}
    officers = []
    for officer in roster.get("officers") or []:
        entry = {k: officer.get(k) for k in ("id", "name", "title", "active", "pin_hash", "counter")}
        entry = {k: v for k, v in entry.items() if v is not None}
        if officer.get("photo_file"):
            entry["photo"] = str(officer["photo_file"])
        officers.append(entry)
    tree["officers"] = officers
    if roster.get("reasons"):
        tree["reasons"] = deepcopy(roster["reasons"])
    for key, value in (roster.get("settings") or {}).items():
        if key in COMMUNE_KEYS:
            tree[key] = deepcopy(value)
    base_dir = settings.source.parent if settings.source else Path.cwd()
    merged = parse_settings(tree, base_dir=base_dir, source=settings.source)
    # ``raw`` stays the tablet's own file: the roster is never written into it.
    months = roster.get("callback_retention_months")
    return replace(merged, raw=settings.raw, public_url=roster.get("public_url") or "",
                   callback_retention_months=months if type(months) is int and months > 0 else 12)


def try_settings_with_roster(settings: Settings, roster: dict[str, Any] | None) -> tuple[Settings, ConfigError | None]:
    """Like :func:`settings_with_roster`, but keeps ``settings`` (and says why)
    when the roster cannot be applied."""
    if not roster:
        return settings, None
    try:
        return settings_with_roster(settings, roster), None
    except ConfigError as exc:
        return settings, exc
