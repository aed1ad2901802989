"""Which settings the technician edits on the tablet, and how they map between
``config.yaml`` and Kivy's settings panels (which hold every value as text).

Kivy-free: the technician's screen builds Kivy's ``Settings`` widget from
:func:`panels`, and turns each edited value back into a config change with
:func:`to_change`; :class:`kiosk.config_file.ConfigFile` validates and writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.config import ATTRIBUTION_MODES, ORIENTATIONS, SURVEY_INVITES, WEEKDAYS, Settings
from sync.roster import COMMUNE_KEYS, LANGUAGES

__all__ = ["Item", "ITEMS", "panels", "values", "to_change", "item_for", "decided_by_roster"]


@dataclass(frozen=True)
class Item:
    """One editable setting."""

    panel: str
    """The panel (a Kivy settings section) it shows in."""

    key: str
    """Its key inside the panel."""

    path: str
    """Its dotted path in config.yaml."""

    kind: str
    """``string``, ``numeric``, ``bool``, ``options``, ``list`` or ``hours``."""

    title: str
    """Catalogue key of its title."""

    options: tuple[str, ...] = ()


_HOURS_ITEMS = tuple(
    Item("hours", day, f"working_hours.{day}", "hours", f"tech.weekday_{day}") for day in WEEKDAYS
)

ITEMS: tuple[Item, ...] = (
    Item("place", "commune_name", "commune.name", "string", "tech.commune_name"),
    Item("place", "hotline", "commune.hotline", "string", "tech.hotline"),
    Item("place", "counter_id", "counter.id", "string", "tech.counter_id"),
    Item("place", "counter_name", "counter.name", "string", "tech.counter_name"),
    Item("rating", "mode", "attribution.mode", "options", "tech.mode", ATTRIBUTION_MODES),
    Item("rating", "mode_officer", "attribution.officer", "string", "tech.mode_officer"),
    Item("rating", "scale", "rating.scale", "options", "tech.scale", ("3", "4", "5")),
    Item("rating", "burst", "rating.burst_interval_s", "numeric", "tech.burst"),
    Item("rating", "reasons_on_high", "rating.reasons_on_high", "bool", "tech.reasons_on_high"),
    Item("rating", "low_reasons", "reasons.low", "list", "tech.low_reasons"),
    Item("rating", "high_reasons", "reasons.high", "list", "tech.high_reasons"),
    Item("hours", "enforce", "working_hours.enforce", "bool", "tech.enforce"),
    *_HOURS_ITEMS,
    *(
        Item("timeouts", name, f"timeouts.{name}", "numeric", f"tech.timeout_{name}")
        for name in ("rating", "reasons", "callback", "thanks", "signin")
    ),
    Item("display", "language", "language", "options", "tech.language", LANGUAGES),
    Item("display", "orientation", "display.orientation", "options", "tech.orientation", ORIENTATIONS),
    Item("display", "server_url", "server.url", "string", "tech.server_url"),
    Item("counter", "correction_window", "correction.window_s", "numeric", "tech.correction_window"),
    Item("counter", "scanner", "handover.scanner", "bool", "tech.handover_scanner"),
    Item("counter", "handover_key", "handover.key", "string", "tech.handover_key"),
    Item("counter", "without_trigger", "handover.without_trigger", "bool", "tech.handover_without_trigger"),
    Item("counter", "prompt_s", "handover.prompt_s", "numeric", "tech.handover_prompt_s"),
    Item("counter", "voice", "voice.enabled", "bool", "tech.voice"),
    Item("counter", "volume", "voice.volume", "numeric", "tech.voice_volume"),
    Item("counter", "survey_invite", "survey.invite", "options", "survey.setting_invite", SURVEY_INVITES),
)

PANEL_TITLES = {
    "place": "tech.section_place",
    "rating": "tech.section_rating",
    "hours": "tech.section_hours",
    "timeouts": "tech.section_timeouts",
    "display": "tech.section_display",
    "counter": "tech.section_counter",
}


def decided_by_roster(item: Item) -> bool:
    """Whether the server's roster sets this item, so that editing it here
    would change nothing while a roster is in force (see kiosk.roster)."""
    top = item.path.split(".")[0]
    return item.path in ("commune.name", "commune.hotline") or top == "reasons" or top in COMMUNE_KEYS


def item_for(panel: str, key: str) -> Item:
    """The item shown as ``key`` in ``panel``."""
    for item in ITEMS:
        if item.panel == panel and item.key == key:
            return item
    raise KeyError((panel, key))


def _current(settings: Settings, item: Item) -> Any:
    """The item's current value, read from the validated settings."""
    getters: dict[str, Callable[[Settings], Any]] = {
        "commune.name": lambda s: s.commune_name,
        "commune.hotline": lambda s: s.hotline,
        "counter.id": lambda s: s.counter_id,
        "counter.name": lambda s: s.counter_name,
        "attribution.mode": lambda s: s.mode,
        "attribution.officer": lambda s: s.mode_officer or "",
        "rating.scale": lambda s: s.scale,
        "rating.burst_interval_s": lambda s: s.burst_interval_s,
        "rating.reasons_on_high": lambda s: s.reasons_on_high,
        "reasons.low": lambda s: [r.id for r in s.low_reasons],
        "reasons.high": lambda s: [r.id for r in s.high_reasons],
        "working_hours.enforce": lambda s: s.working_hours.enforce,
        "language": lambda s: s.language,
        "display.orientation": lambda s: s.orientation,
        "server.url": lambda s: s.server_url,
        "correction.window_s": lambda s: s.correction_window_s,
        "handover.scanner": lambda s: s.handover.scanner,
        "handover.key": lambda s: s.handover.key,
        "handover.without_trigger": lambda s: s.handover.without_trigger,
        "handover.prompt_s": lambda s: s.handover.prompt_s,
        "voice.enabled": lambda s: s.voice.enabled,
        "voice.volume": lambda s: s.voice.volume,
        "survey.invite": lambda s: s.survey_invite,
    }
    if item.kind == "hours":
        spans = settings.working_hours.sessions.get(item.key, ())
        return [f"{a:%H:%M}-{b:%H:%M}" for a, b in spans]
    if item.path.startswith("timeouts."):
        return getattr(settings.timeouts, item.key)
    return getters[item.path](settings)


def _as_text(item: Item, value: Any) -> str:
    if item.kind == "bool":
        return "1" if value else "0"
    if item.kind in ("list", "hours"):
        return ", ".join(value)
    if item.kind == "numeric":
        return f"{value:g}"
    return str(value)


def values(settings: Settings) -> dict[str, dict[str, str]]:
    """Every item's current value as text, by panel and key (a ConfigParser's content)."""
    out: dict[str, dict[str, str]] = {}
    for item in ITEMS:
        out.setdefault(item.panel, {})[item.key] = _as_text(item, _current(settings, item))
    return out


def panels(tr: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """``(panel, title, json)`` for each panel, in the form Kivy's
    ``Settings.add_json_panel`` takes; ``tr`` translates catalogue keys."""
    out = []
    for panel, title_key in PANEL_TITLES.items():
        entries = []
        for item in ITEMS:
            if item.panel != panel:
                continue
            kind = {"list": "string", "hours": "string"}.get(item.kind, item.kind)
            entry: dict[str, Any] = {
                "type": kind,
                "title": tr(item.title),
                "section": panel,
                "key": item.key,
            }
            if item.kind == "hours":
                entry["desc"] = tr("tech.hours_hint")
            if item.options:
                entry["options"] = list(item.options)
            entries.append(entry)
        out.append((panel, tr(title_key), json.dumps(entries, ensure_ascii=False)))
    return out


def to_change(panel: str, key: str, text: str) -> tuple[str, Any]:
    """Turn an edited text value into ``(dotted path, YAML value)``.

    A number that does not parse is passed on as text, so the config's own
    check refuses it with its usual message naming the key.
    """
    item = item_for(panel, key)
    text = str(text).strip()
    if item.kind == "bool":
        return item.path, text in ("1", "True", "true")
    if item.kind == "numeric":
        try:
            number = float(text)
        except ValueError:
            return item.path, text
        return item.path, int(number) if number.is_integer() else number
    if item.path == "rating.scale":
        return item.path, int(text) if text.isdigit() else text
    if item.kind == "list":
        return item.path, [part.strip() for part in text.split(",") if part.strip()]
    if item.kind == "hours":
        spans = [part.strip() for part in text.split(",") if part.strip()]
        return item.path, spans or None
    if item.path in ("attribution.officer", "handover.key"):
        return item.path, text or None
    return item.path, text
