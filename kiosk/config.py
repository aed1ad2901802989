"""The device's settings: ``config.yaml``, read and validated into :class:`Settings`.

Every problem is reported as one :class:`ConfigError` that names the key path
(``officers[2].title``) and says what is wrong, in Vietnamese and English, so a
technician can fix the file without reading code. Nothing here imports Kivy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from datetime import datetime, time
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kiosk import pin
from kiosk.i18n import LANGUAGES, catalogue

__all__ = [
    "ATTRIBUTION_MODES",
    "AttributionMode",
    "WEEKDAYS",
    "ConfigError",
    "Officer",
    "Reason",
    "Settings",
    "WorkingHours",
    "load_settings",
    "parse_settings",
]



class AttributionMode(StrEnum):
    """Who a tap rates (``attribution.mode``)."""

    COUNTER = "counter"
    """The officer signed in at this counter (hidden sign-in, PIN)."""
    CHOOSE = "choose"
    """The officer whose photo the citizen taps first (one shared tablet)."""
    OFFICER = "officer"
    """``attribution.officer``: the tablet belongs to one officer."""


ATTRIBUTION_MODES = tuple(m.value for m in AttributionMode)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORIENTATIONS = ("auto", "landscape", "portrait")
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
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_PHONE = re.compile(r"^[0-9 .+()-]{3,20}$")


class ConfigError(Exception):
    """A problem in the settings, at one key path."""

    def __init__(self, path: str, problem: str, /, **values: Any):
        self.path = path
        self.problem = problem
        self.values = values
        super().__init__(self.line())

    def message(self, language: str) -> str:
        """The problem in one language, without the key path."""
        values = {
            k: catalogue(language).get(v) if k == "expected" else v
            for k, v in self.values.items()
        }
        return catalogue(language).get(f"config.{self.problem}", **values)

    def line(self) -> str:
        """One line for a technician: key path, then the problem in Vietnamese and English."""
        return (
            f"{catalogue('vi').get('config.error')}: {self.path}: "
            f"{self.message('vi')} ({self.message('en')})"
        )


@dataclass(frozen=True)
class Officer:
    """An officer of the roster."""

    id: str
    name: str
    title: str
    photo: Path | None = None
    pin_hash: str | None = None
    active: bool = True

    @property
    def initials(self) -> str:
        """Initials for a drawn portrait: the last two words of the name."""
        words = self.name.split()
        return "".join(w[0] for w in words[-2:]).upper()


@dataclass(frozen=True)
class Reason:
    """A reason a citizen may give. Built-in reasons take their words from the
    catalogues; a commune's own reasons carry them."""

    id: str
    labels: dict[str, str] | None = None

    def label(self, language: str) -> str:
        if self.labels:
            return self.labels[language]
        return catalogue(language).get(f"reason.{self.id}")


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
        return ", ".join(
            f"{s:%H:%M}–{e:%H:%M}" for s, e in self.sessions.get(day, ())
        )


@dataclass(frozen=True)
class Timeouts:
    """Seconds each screen waits before going back to idle by itself."""

    rating: float = 45.0
    reasons: float = 30.0
    callback: float = 60.0
    thanks: float = 10.0
    signin: float = 30.0


@dataclass(frozen=True)
class Settings:
    """Everything the tablet needs to know, validated."""

    source: Path | None
    commune_name: str
    hotline: str
    counter_id: str
    counter_name: str
    mode: AttributionMode
    mode_officer: str | None
    officers: tuple[Officer, ...]
    scale: int
    burst_interval_s: float
    reasons_on_high: bool
    low_reasons: tuple[Reason, ...]
    high_reasons: tuple[Reason, ...]
    working_hours: WorkingHours
    timeouts: Timeouts
    language: str
    fullscreen: bool
    orientation: str
    server_url: str
    technician_pin_hash: str | None
    database: Path
    pin_attempts: int
    pin_lockout_s: float
    raw: dict = field(default_factory=dict, repr=False)

    def officer(self, officer_id: str) -> Officer:
        """The officer with that id."""
        for officer in self.officers:
            if officer.id == officer_id:
                return officer
        raise KeyError(officer_id)

    @property
    def active_officers(self) -> tuple[Officer, ...]:
        return tuple(o for o in self.officers if o.active)


def load_settings(path: str | Path) -> Settings:
    """Read and validate a ``config.yaml``. Raises :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "no_config", file=str(path))
    try:
        with open(path, encoding="utf-8") as fh:
            data = YAML(typ="safe").load(fh)
    except YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        raise ConfigError(where, "not_yaml", problem=problem) from None
    return parse_settings(data, base_dir=path.parent, source=path)


def parse_settings(data: Any, *, base_dir: Path, source: Path | None = None) -> Settings:
    """Validate an already-parsed settings tree. Relative paths resolve from ``base_dir``."""
    root = _Node(data if data is not None else {}, "")
    root.expect_mapping()

    commune = root.child("commune")
    counter = root.child("counter")
    attribution = root.child("attribution")
    rating = root.child("rating", optional=True)
    reasons = root.child("reasons", optional=True)
    hours = root.child("working_hours", optional=True)
    timeouts = root.child("timeouts", optional=True)
    display = root.child("display", optional=True)
    server = root.child("server", optional=True)
    technician = root.child("technician", optional=True)
    storage = root.child("storage", optional=True)
    security = root.child("security", optional=True)
    root.allow_only(
        "commune", "counter", "attribution", "officers", "rating", "reasons",
        "working_hours", "timeouts", "language", "display", "server",
        "technician", "storage", "security",
    )

    commune.allow_only("name", "hotline")
    counter.allow_only("id", "name")
    attribution.allow_only("mode", "officer")

    officers = _officers(root.child("officers"), base_dir)
    mode = AttributionMode(attribution.choice("mode", ATTRIBUTION_MODES))
    mode_officer = attribution.string("officer", optional=True)
    ids = [o.id for o in officers]
    if mode is AttributionMode.OFFICER and mode_officer is None:
        raise ConfigError(attribution.at("officer"), "missing")
    if mode_officer is not None and mode_officer not in ids:
        raise ConfigError(attribution.at("officer"), "no_such_officer", id=mode_officer)
    if mode is AttributionMode.OFFICER and not next(o for o in officers if o.id == mode_officer).active:
        raise ConfigError(attribution.at("officer"), "officer_inactive", id=mode_officer)
    if not any(o.active for o in officers):
        raise ConfigError("officers", "no_active_officer")

    rating.allow_only("scale", "burst_interval_s", "reasons_on_high")
    reasons.allow_only("low", "high")
    hours.allow_only("enforce", *WEEKDAYS)
    timeouts.allow_only("rating", "reasons", "callback", "thanks", "signin")
    display.allow_only("fullscreen", "orientation")
    server.allow_only("url")
    technician.allow_only("pin_hash")
    storage.allow_only("database")
    security.allow_only("pin_attempts", "lockout_s")

    server_url = server.string("url", optional=True) or ""
    if server_url and not re.match(r"^https?://[^\s/]+", server_url):
        raise ConfigError(server.at("url"), "bad_url")
    hotline = commune.string("hotline", optional=True) or ""
    if hotline and not _PHONE.match(hotline):
        raise ConfigError(commune.at("hotline"), "bad_phone")
    technician_pin = technician.string("pin_hash", optional=True)
    if technician_pin is not None and not pin.is_pin_hash(technician_pin):
        raise ConfigError(technician.at("pin_hash"), "bad_pin_hash")

    return Settings(
        source=source,
        commune_name=commune.string("name"),
        hotline=hotline,
        counter_id=counter.slug("id"),
        counter_name=counter.string("name"),
        mode=mode,
        mode_officer=mode_officer,
        officers=officers,
        scale=rating.choice("scale", (3, 4, 5), default=3),
        burst_interval_s=rating.number("burst_interval_s", default=5.0, minimum=0),
        reasons_on_high=rating.boolean("reasons_on_high", default=True),
        low_reasons=_reasons(reasons.child("low", optional=True), DEFAULT_LOW_REASONS),
        high_reasons=_reasons(reasons.child("high", optional=True), DEFAULT_HIGH_REASONS),
        working_hours=_working_hours(hours),
        timeouts=Timeouts(
            **{
                name: timeouts.number(name, default=getattr(Timeouts, name), positive=True)
                for name in ("rating", "reasons", "callback", "thanks", "signin")
            }
        ),
        language=root.choice("language", LANGUAGES, default="vi"),
        fullscreen=display.boolean("fullscreen", default=True),
        orientation=display.choice("orientation", ORIENTATIONS, default="auto"),
        server_url=server_url,
        technician_pin_hash=technician_pin,
        database=_resolve(base_dir, storage.string("database", optional=True) or "data/hailong.db"),
        pin_attempts=int(security.number("pin_attempts", default=5, positive=True, integer=True)),
        pin_lockout_s=security.number("lockout_s", default=60.0, positive=True),
        raw=data if isinstance(data, dict) else {},
    )


def _resolve(base_dir: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def _officers(node: "_Node", base_dir: Path) -> tuple[Officer, ...]:
    items = node.items()
    if not items:
        raise ConfigError(node.path, "empty")
    seen: dict[str, str] = {}
    officers = []
    for item in items:
        item.expect_mapping()
        item.allow_only("id", "name", "title", "photo", "pin_hash", "active")
        officer_id = item.slug("id")
        if officer_id in seen:
            raise ConfigError(item.at("id"), "duplicate", other=seen[officer_id])
        seen[officer_id] = item.path
        photo_value = item.string("photo", optional=True)
        photo = _resolve(base_dir, photo_value) if photo_value else None
        if photo is not None and not photo.is_file():
            raise ConfigError(item.at("photo"), "no_file", file=photo_value)
        pin_hash = item.string("pin_hash", optional=True)
        if pin_hash is not None and not pin.is_pin_hash(pin_hash):
            raise ConfigError(item.at("pin_hash"), "bad_pin_hash")
        officers.append(
            Officer(
                id=officer_id,
                name=item.string("name"),
                title=item.string("title"),
                photo=photo,
                pin_hash=pin_hash,
                active=item.boolean("active", default=True),
            )
        )
    return tuple(officers)


def _reasons(node: "_Node", defaults: tuple[str, ...]) -> tuple[Reason, ...]:
    if node.value is None:
        return tuple(Reason(r) for r in defaults)
    reasons = []
    seen: dict[str, str] = {}
    for item in node.items():
        if isinstance(item.value, str):
            reason = Reason(item.value)
            if not catalogue("vi").has(f"reason.{reason.id}"):
                raise ConfigError(item.path, "unknown_reason", id=item.value)
        elif isinstance(item.value, dict):
            item.allow_only("id", "vi", "en")
            reason = Reason(
                item.slug("id"), {lang: item.string(lang) for lang in LANGUAGES}
            )
        else:
            raise ConfigError(item.path, "unknown_reason", id=item.value)
        if reason.id in seen:
            raise ConfigError(item.path, "duplicate", other=seen[reason.id])
        seen[reason.id] = item.path
        reasons.append(reason)
    return tuple(reasons)


def _working_hours(node: "_Node") -> WorkingHours:
    sessions: dict[str, tuple[tuple[time, time], ...]] = {}
    for day in WEEKDAYS:
        day_node = node.child(day, optional=True)
        if day_node.value is None:
            continue
        spans = []
        for item in day_node.items():
            match = _HOURS.match(item.value) if isinstance(item.value, str) else None
            if not match:
                raise ConfigError(item.path, "bad_hours")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            try:
                start, end = time(h1, m1), time(h2, m2)
            except ValueError:
                raise ConfigError(item.path, "bad_hours") from None
            if start >= end:
                raise ConfigError(item.path, "bad_hours")
            spans.append((start, end))
        sessions[day] = tuple(spans)
    return WorkingHours(enforce=node.boolean("enforce", default=False), sessions=sessions)


class _Node:
    """A value in the settings tree together with its key path, with typed getters
    that raise :class:`ConfigError` naming that path."""

    def __init__(self, value: Any, path: str):
        self.value = value
        self.path = path

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def expect_mapping(self) -> None:
        if not isinstance(self.value, dict):
            raise ConfigError(self.path or "config", "wrong_type", expected="config.type_mapping")

    def child(self, key: str, optional: bool = False) -> "_Node":
        if self.value is None:
            return _Node(None, self.at(key))
        self.expect_mapping()
        if key not in self.value or self.value[key] is None:
            if not optional:
                raise ConfigError(self.at(key), "missing")
            return _Node(None, self.at(key))
        return _Node(self.value[key], self.at(key))

    def items(self) -> list["_Node"]:
        if not isinstance(self.value, list):
            raise ConfigError(self.path, "wrong_type", expected="config.type_list")
        return [_Node(v, self.at(i)) for i, v in enumerate(self.value)]

    def allow_only(self, *keys: str) -> None:
        if self.value is None:
            return
        self.expect_mapping()
        for key in self.value:
            if key not in keys:
                raise ConfigError(self.at(str(key)), "unknown_key")

    def _get(self, key: str, optional: bool, default: Any, check: Callable[[Any], bool], expected: str) -> Any:
        value = None if self.value is None else self.value.get(key)
        if value is None:
            if default is not None:
                return default
            if optional:
                return None
            raise ConfigError(self.at(key), "missing")
        if not check(value):
            raise ConfigError(self.at(key), "wrong_type", expected=expected)
        return value

    def string(self, key: str, optional: bool = False) -> str | None:
        value = self._get(key, optional, None, lambda v: isinstance(v, str), "config.type_string")
        if value is not None and not value.strip():
            raise ConfigError(self.at(key), "empty")
        return value.strip() if value is not None else None

    def slug(self, key: str) -> str:
        value = self.string(key)
        if not _SLUG.match(value):
            raise ConfigError(self.at(key), "slug")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False, None if default is None else default, lambda v: isinstance(v, bool), "config.type_bool")
        return value

    def number(
        self,
        key: str,
        default: float,
        minimum: float | None = None,
        positive: bool = False,
        integer: bool = False,
    ) -> float:
        def is_number(v: Any) -> bool:
            if isinstance(v, bool):
                return False
            return isinstance(v, int) if integer else isinstance(v, (int, float))

        value = self._get(
            key, False, default, is_number, "config.type_int" if integer else "config.type_number"
        )
        if positive and value <= 0:
            raise ConfigError(self.at(key), "not_positive")
        if minimum is not None and value < minimum:
            raise ConfigError(self.at(key), "negative")
        return float(value)

    def choice(self, key: str, choices: tuple, default: Any = None) -> Any:
        value = None if self.value is None else self.value.get(key)
        if value is None:
            if default is not None:
                return default
            raise ConfigError(self.at(key), "missing")
        # 3.0 == 3 and True == 1 in Python: compare types too, so a setting
        # keeps the type its readers expect.
        if value not in choices or type(value) not in {type(c) for c in choices}:
            raise ConfigError(
                self.at(key), "one_of", choices=", ".join(str(c) for c in choices)
            )
        return value


def officer_id_for(name: str, taken: list[str] | tuple[str, ...] = ()) -> str:
    """A roster id made from a Vietnamese name: ``Nguyễn Thị Lan`` → ``nguyen-thi-lan``,
    with ``-2``, ``-3`` … added when the id is already taken."""
    import unicodedata

    plain = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    base = "-".join(re.findall(r"[a-z0-9]+", plain)) or "can-bo"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
