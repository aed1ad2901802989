"""What a commune decides for all its tablets, and the rules that check it.

The commune's name and hotline, the officers (with their portraits and PIN
verifiers), the reasons offered as chips and the commune-wide settings
(:data:`COMMUNE_KEYS`: the rating scale, working hours, timeouts, language)
are written in a tablet's ``config.yaml`` and in the roster the commune server
pushes. Both are checked here, by the same code, so a roster the server
accepts is one every tablet accepts.

Every problem is one :class:`SettingsError` that names the key path
(``officers[2].title``) and a problem code; each end words it in its own
language catalogue. Nothing here reads files other than checking that a
portrait exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from sync.pin import is_pin_hash

__all__ = [
    "COMMUNE_KEYS",
    "COMMUNE_SECTIONS",
    "DEFAULT_HIGH_REASONS",
    "DEFAULT_LOW_REASONS",
    "BUILTIN_REASONS",
    "LANGUAGES",
    "SCALE_SIZES",
    "WEEKDAYS",
    "Commune",
    "Officer",
    "Reason",
    "SettingsError",
    "SettingsNode",
    "Timeouts",
    "WorkingHours",
    "officer_id_for",
    "parse_commune",
    "resolve_path",
]

LANGUAGES = ("vi", "en")
"""The languages every text is written in, Vietnamese first."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCALE_SIZES = (3, 4, 5)

COMMUNE_KEYS = ("rating", "working_hours", "timeouts", "language")
"""The settings a roster may decide for every tablet (its ``settings`` part)."""

COMMUNE_SECTIONS = ("commune", "officers", "reasons", *COMMUNE_KEYS)
"""Every top-level key of ``config.yaml`` that belongs to the commune, not to one tablet."""

# The reasons the product ships with; their wording lives in each end's
# language catalogue under ``reason.<id>``. A commune's own reason carries its
# words instead.
DEFAULT_LOW_REASONS = (
    "waited_long",
    "come_back",
    "unclear_guidance",
    "not_listening",
    "hard_to_understand",
    "disrespectful",
    "no_apology",
    "late_result",
    "extra_papers",
    "extra_money",
    "harassment",
)
DEFAULT_HIGH_REASONS = (
    "fast",
    "listened",
    "clear_guidance",
    "respectful",
    "friendly",
    "trustworthy",
    "on_time",
    "saved_cost",
)
BUILTIN_REASONS = frozenset(DEFAULT_LOW_REASONS + DEFAULT_HIGH_REASONS)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")
"""An id in the roster: lower-case ASCII words joined by hyphens."""

PHONE = re.compile(r"^[0-9 .+()-]{3,20}\Z")
"""A phone number as a commune writes it (the hotline)."""

_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})\Z")


class SettingsError(Exception):
    """A problem in the settings, at one key path.

    ``problem`` is a code (``missing``, ``wrong_type``, ``slug`` …) and
    ``values`` fill its wording; ``expected`` names a type code.
    """

    def __init__(self, path: str, problem: str, /, **values: Any):
        self.path = path
        self.problem = problem
        self.values = values
        super().__init__(f"{path}: {problem}" + (f" {values}" if values else ""))


@dataclass(frozen=True)
class Officer:
    """An officer of the roster."""

    id: str
    name: str
    title: str
    photo: Path | None = None
    pin_hash: str | None = None
    active: bool = True
    counter: str | None = None
    """The counter the officer usually serves at, when the roster says."""

    @property
    def initials(self) -> str:
        """Initials for a drawn portrait: the last two words of the name."""
        words = self.name.split()
        return "".join(w[0] for w in words[-2:]).upper()


@dataclass(frozen=True)
class Reason:
    """A reason a citizen may give. A built-in reason has no ``labels`` (each
    end words it from its catalogue); a commune's own reason carries them."""

    id: str
    labels: dict[str, str] | None = None


@dataclass(frozen=True)
class WorkingHours:
    """Opening sessions per weekday, and whether ratings outside them are refused."""

    enforce: bool
    sessions: dict[str, tuple[tuple[time, time], ...]]

    def is_open(self, when: datetime) -> bool:
        """Whether ``when`` (device local time) falls in a session."""
        if not self.enforce:
            return True
        day = WEEKDAYS[when.weekday()]
        now = when.time()
        return any(start <= now < end for start, end in self.sessions.get(day, ()))

    def describe(self, when: datetime) -> str:
        """Today's sessions as ``07:30–11:30, 13:30–17:00``; empty when closed all day."""
        day = WEEKDAYS[when.weekday()]
        return ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in self.sessions.get(day, ()))


@dataclass(frozen=True)
class Timeouts:
    """Seconds each screen waits before going back to idle by itself."""

    rating: float = 45.0
    reasons: float = 15.0
    callback: float = 60.0
    thanks: float = 20.0
    signin: float = 30.0


TIMEOUT_NAMES = ("rating", "reasons", "callback", "thanks", "signin")


@dataclass(frozen=True)
class Commune:
    """The commune's part of the settings, validated."""

    name: str
    hotline: str
    officers: tuple[Officer, ...]
    scale: int
    burst_interval_s: float
    reasons_on_high: bool
    low_reasons: tuple[Reason, ...]
    high_reasons: tuple[Reason, ...]
    working_hours: WorkingHours
    timeouts: Timeouts
    language: str
    leaders: str = ""
    """Who calls citizens back, as the consent text names them (e.g. «Chủ tịch
    UBND Nguyễn Văn A»); empty: the commune's leaders, by the commune's name."""


def parse_commune(root: SettingsNode, base_dir: Path, *, reason_type: type[Reason] = Reason) -> Commune:
    """Check the commune's sections of a settings tree (``root`` is its top).

    Portraits resolve from ``base_dir``. ``reason_type`` lets an end build its
    own :class:`Reason` subclass (one that words built-in reasons). Keys other
    than :data:`COMMUNE_SECTIONS` are left to the caller. Raises
    :class:`SettingsError`.
    """
    root.expect_mapping()
    commune = root.child("commune")
    rating = root.child("rating", optional=True)
    reasons = root.child("reasons", optional=True)
    hours = root.child("working_hours", optional=True)
    timeouts = root.child("timeouts", optional=True)
    commune.allow_only("name", "hotline", "leaders")
    officers = _officers(root.child("officers"), base_dir)
    if not any(o.active for o in officers):
        raise SettingsError("officers", "no_active_officer")
    rating.allow_only("scale", "burst_interval_s", "reasons_on_high")
    reasons.allow_only("low", "high")
    hours.allow_only("enforce", *WEEKDAYS)
    timeouts.allow_only(*TIMEOUT_NAMES)
    hotline = commune.string("hotline", optional=True) or ""
    if hotline and not PHONE.match(hotline):
        raise SettingsError(commune.at("hotline"), "bad_phone")
    leaders = " ".join((commune.string("leaders", optional=True) or "").split())
    return Commune(
        name=commune.string("name"),
        hotline=hotline,
        leaders=leaders,
        officers=officers,
        scale=rating.choice("scale", SCALE_SIZES, default=3),
        burst_interval_s=rating.number("burst_interval_s", default=5.0, minimum=0),
        reasons_on_high=rating.boolean("reasons_on_high", default=True),
        low_reasons=_reasons(reasons.child("low", optional=True), DEFAULT_LOW_REASONS, reason_type),
        high_reasons=_reasons(reasons.child("high", optional=True), DEFAULT_HIGH_REASONS, reason_type),
        working_hours=_working_hours(hours),
        timeouts=Timeouts(
            **{name: timeouts.number(name, default=getattr(Timeouts, name), positive=True) for name in TIMEOUT_NAMES}
        ),
        language=root.choice("language", LANGUAGES, default="vi"),
    )


def resolve_path(base_dir: Path, value: str) -> Path:
    """A path from the settings: ``~`` expanded, relative ones from ``base_dir``."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def _officers(node: SettingsNode, base_dir: Path) -> tuple[Officer, ...]:
    items = node.items()
    if not items:
        raise SettingsError(node.path, "empty")
    seen: dict[str, str] = {}
    officers = []
    for item in items:
        item.expect_mapping()
        item.allow_only("id", "name", "title", "photo", "pin_hash", "active", "counter")
        officer_id = item.slug("id")
        if officer_id in seen:
            raise SettingsError(item.at("id"), "duplicate", other=seen[officer_id])
        seen[officer_id] = item.path
        photo_value = item.string("photo", optional=True)
        photo = resolve_path(base_dir, photo_value) if photo_value else None
        if photo is not None and not photo.is_file():
            raise SettingsError(item.at("photo"), "no_file", file=photo_value)
        pin_hash = item.string("pin_hash", optional=True)
        if pin_hash is not None and not is_pin_hash(pin_hash):
            raise SettingsError(item.at("pin_hash"), "bad_pin_hash")
        officers.append(
            Officer(
                id=officer_id,
                name=item.string("name"),
                title=item.string("title"),
                photo=photo,
                pin_hash=pin_hash,
                active=item.boolean("active", default=True),
                counter=item.slug("counter") if item.string("counter", optional=True) else None,
            )
        )
    return tuple(officers)


def _reasons(node: SettingsNode, defaults: tuple[str, ...], reason_type: type[Reason]) -> tuple[Reason, ...]:
    if node.value is None:
        return tuple(reason_type(r) for r in defaults)
    reasons = []
    seen: dict[str, str] = {}
    for item in node.items():
        if isinstance(item.value, str):
            reason = reason_type(item.value)
            if reason.id not in BUILTIN_REASONS:
                raise SettingsError(item.path, "unknown_reason", id=item.value)
        elif isinstance(item.value, dict):
            item.allow_only("id", *LANGUAGES)
            reason = reason_type(item.slug("id"), {lang: item.string(lang) for lang in LANGUAGES})
        else:
            raise SettingsError(item.path, "unknown_reason", id=item.value)
        if reason.id in seen:
            raise SettingsError(item.path, "duplicate", other=seen[reason.id])
        seen[reason.id] = item.path
        reasons.append(reason)
    return tuple(reasons)


def _working_hours(node: SettingsNode) -> WorkingHours:
    sessions: dict[str, tuple[tuple[time, time], ...]] = {}
    for day in WEEKDAYS:
        day_node = node.child(day, optional=True)
        if day_node.value is None:
            continue
        spans = []
        for item in day_node.items():
            match = _HOURS.match(item.value) if isinstance(item.value, str) else None
            if not match:
                raise SettingsError(item.path, "bad_hours")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            try:
                start, end = time(h1, m1), time(h2, m2)
            except ValueError:
                raise SettingsError(item.path, "bad_hours") from None
            if start >= end:
                raise SettingsError(item.path, "bad_hours")
            spans.append((start, end))
        sessions[day] = tuple(spans)
    return WorkingHours(enforce=node.boolean("enforce", default=False), sessions=sessions)


class SettingsNode:
    """A value in a settings tree together with its key path, with typed
    getters that raise :class:`SettingsError` naming that path."""

    def __init__(self, value: Any, path: str = ""):
        self.value = value
        self.path = path

    def at(self, key: str | int) -> str:
        """The key path of a child."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def expect_mapping(self) -> None:
        """Refuse anything but a mapping."""
        if not isinstance(self.value, dict):
            raise SettingsError(self.path or "config", "wrong_type", expected="type_mapping")

    def child(self, key: str, optional: bool = False) -> SettingsNode:
        """The node at ``key``; a missing optional one holds ``None``."""
        if self.value is None:
            return SettingsNode(None, self.at(key))
        self.expect_mapping()
        if key not in self.value or self.value[key] is None:
            if not optional:
                raise SettingsError(self.at(key), "missing")
            return SettingsNode(None, self.at(key))
        return SettingsNode(self.value[key], self.at(key))

    def items(self) -> list[SettingsNode]:
        """The nodes of a list."""
        if not isinstance(self.value, list):
            raise SettingsError(self.path, "wrong_type", expected="type_list")
        return [SettingsNode(v, self.at(i)) for i, v in enumerate(self.value)]

    def allow_only(self, *keys: str) -> None:
        """Refuse keys other than ``keys`` (a typo must not pass silently)."""
        if self.value is None:
            return
        self.expect_mapping()
        for key in self.value:
            if key not in keys:
                raise SettingsError(self.at(str(key)), "unknown_key")

    def _get(self, key: str, optional: bool, default: Any, check: Callable[[Any], bool], expected: str) -> Any:
        value = None if self.value is None else self.value.get(key)
        if value is None:
            if default is not None:
                return default
            if optional:
                return None
            raise SettingsError(self.at(key), "missing")
        if not check(value):
            raise SettingsError(self.at(key), "wrong_type", expected=expected)
        return value

    def string(self, key: str, optional: bool = False) -> str | None:
        """A non-empty string, stripped."""
        value = self._get(key, optional, None, lambda v: isinstance(v, str), "type_string")
        if value is not None and not value.strip():
            raise SettingsError(self.at(key), "empty")
        return value.strip() if value is not None else None

    def slug(self, key: str) -> str:
        """An id (see :data:`SLUG`)."""
        value = self.string(key)
        if not SLUG.match(value):
            raise SettingsError(self.at(key), "slug")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """``true`` or ``false``."""
        return self._get(key, False, default, lambda v: isinstance(v, bool), "type_bool")

    def number(
        self,
        key: str,
        default: float,
        minimum: float | None = None,
        positive: bool = False,
        integer: bool = False,
    ) -> float:
        """A number (a whole one with ``integer``), as a float."""

        def is_number(v: Any) -> bool:
            if isinstance(v, bool):
                return False
            return isinstance(v, int) if integer else isinstance(v, (int, float))

        value = self._get(key, False, default, is_number, "type_int" if integer else "type_number")
        if positive and value <= 0:
            raise SettingsError(self.at(key), "not_positive")
        if minimum is not None and value < minimum:
            raise SettingsError(self.at(key), "negative")
        return float(value)

    def choice(self, key: str, choices: tuple, default: Any = None) -> Any:
        """One of ``choices``, of the same type."""
        value = None if self.value is None else self.value.get(key)
        if value is None:
            if default is not None:
                return default
            raise SettingsError(self.at(key), "missing")
        # 3.0 == 3 and True == 1 in Python: compare types too, so a setting
        # keeps the type its readers expect.
        if value not in choices or type(value) not in {type(c) for c in choices}:
            raise SettingsError(self.at(key), "one_of", choices=", ".join(str(c) for c in choices))
        return value


def officer_id_for(name: str, taken: list[str] | tuple[str, ...] = ()) -> str:
    """A roster id made from a Vietnamese name: ``Nguyễn Thị Lan`` → ``nguyen-thi-lan``,
    with ``-2``, ``-3`` … added when the id is already taken."""
    plain = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    base = "-".join(re.findall(r"[a-z0-9]+", plain)) or "can-bo"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
