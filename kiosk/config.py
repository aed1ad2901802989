"""The device's settings: ``config.yaml``, read and validated into :class:`Settings`.

Every problem is reported as one :class:`ConfigError` that names the key path
(``officers[2].title``) and says what is wrong, in Vietnamese and English, so a
technician can fix the file without reading code. Nothing here imports Kivy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kiosk.i18n import catalogue
from sync import roster
from sync.pin import is_pin_hash
from sync.roster import (
    COMMUNE_SECTIONS,
    WEEKDAYS,
    Officer,
    SettingsError,
    SettingsNode,
    Timeouts,
    WorkingHours,
    officer_id_for,
    parse_commune,
    resolve_path,
)

__all__ = [
    "ATTRIBUTION_MODES",
    "AttributionMode",
    "WEEKDAYS",
    "ConfigError",
    "Officer",
    "Reason",
    "Settings",
    "Timeouts",
    "WorkingHours",
    "WEEKDAYS",
    "load_settings",
    "officer_id_for",
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
ORIENTATIONS = ("auto", "landscape", "portrait")
DEVICE_SECTIONS = ("counter", "attribution", "display", "server", "technician", "storage", "security", "correction",
                   "handover", "voice", "survey")
SURVEY_INVITES = ("after_thanks", "only", "off")
"""``survey.invite``: when the tablet invites citizens to a running survey
campaign — after the thank-you screen, as its only use (a survey tablet), or never."""


class ConfigError(SettingsError):
    """A problem in the settings, at one key path, worded from the catalogues."""

    def __init__(self, path: str, problem: str, /, **values: Any):
        super().__init__(path, problem, **values)
        self.args = (self.line(),)

    def __str__(self) -> str:
        return self.line()

    @classmethod
    def of(cls, error: SettingsError) -> ConfigError:
        """The same problem, worded for a technician."""
        return error if isinstance(error, ConfigError) else cls(error.path, error.problem, **error.values)

    def message(self, language: str) -> str:
        """The problem in one language, without the key path."""
        values = {
            k: catalogue(language).get(f"config.{v}") if k == "expected" else v
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
class Reason(roster.Reason):
    """A reason a citizen may give, worded for the tablet: built-in reasons
    take their words from the catalogues, a commune's own reasons carry them."""

    def label(self, language: str) -> str:
        """The reason in ``language``."""
        if self.labels:
            return self.labels[language]
        return catalogue(language).get(f"reason.{self.id}")


@dataclass(frozen=True)
class Settings:
    """Everything the tablet needs to know, validated."""

    source: Path | None
    commune_name: str
    hotline: str
    counter_id: str
    counter_name: str
    mode: AttributionMode
    """Who a tap rates."""
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
    public_url: str = ""
    """Where citizens' phones reach the commune server, as its roster says;
    the comment QR code points there (else at ``server_url``)."""
    leaders: str = ""
    """``commune.leaders``: who calls citizens back, named in the consent text."""
    callback_retention_months: int = 12
    """Months the server keeps a call-back number after its case is resolved,
    as its roster says; the consent text tells the citizen."""
    display_dpi: float | None = None
    """``display.dpi``: the screen's dots per inch when the system reports it
    wrongly (many touch PCs say 96); sizes in millimetres follow it."""
    correction_window_s: float = 5.0
    """``correction.window_s``: seconds the tapped face stays shown with
    "Chọn lại" after a tap (0: no confirmation, no correction)."""
    handover: HandOverSettings = field(default_factory=lambda: HandOverSettings())
    """``handover``: the prompt an officer triggers when handing the result over."""
    voice: VoiceSettings = field(default_factory=lambda: VoiceSettings())
    """``voice``: the spoken question and thanks."""
    survey_invite: str = "after_thanks"
    """``survey.invite``: see :data:`SURVEY_INVITES`."""
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
    try:
        return _parse(data, base_dir, source)
    except SettingsError as exc:
        raise ConfigError.of(exc) from None


@dataclass(frozen=True)
class HandOverSettings:
    """Counter mode's prompt at the hand-over of a result (``handover`` section)."""

    scanner: bool = True
    """A USB barcode/QR scanner typing the dossier code and Enter triggers it."""
    key: str = ""
    """A key (a keypad's or a foot switch's, as Kivy names it, e.g. ``f9``) that
    triggers it without a code; empty: none."""
    without_trigger: bool = True
    """Whether the faces wait at rest for anyone (``false``: only after a trigger)."""
    prompt_s: float = 60.0
    """Seconds the prompt waits for a tap before the counter rests again."""
    scan_gap_ms: float = 50.0
    """The longest pause between two characters a scanner types (people type slower)."""


@dataclass(frozen=True)
class VoiceSettings:
    """The spoken prompts (``voice`` section): off unless a commune turns them on."""

    enabled: bool = False
    volume: int = 80
    """Per cent of the tablet's own volume, 0–100."""
    directory: Path | None = None
    """A folder of the commune's own recordings, read before the placeholders
    in ``assets/voice/`` (same names: ``vi/question.wav``, …)."""


def _correction_window(node: SettingsNode) -> float:
    node.allow_only("window_s")
    return node.number("window_s", default=5.0, minimum=0)


def _handover(node: SettingsNode) -> HandOverSettings:
    node.allow_only("scanner", "key", "without_trigger", "prompt_s", "scan_gap_ms")
    return HandOverSettings(
        scanner=node.boolean("scanner", default=True),
        key=(node.string("key", optional=True) or "").lower(),
        without_trigger=node.boolean("without_trigger", default=True),
        prompt_s=node.number("prompt_s", default=60.0, positive=True),
        scan_gap_ms=node.number("scan_gap_ms", default=50.0, positive=True),
    )


def _voice(node: SettingsNode, base_dir: Path) -> VoiceSettings:
    node.allow_only("enabled", "volume", "directory")
    directory = node.string("directory", optional=True)
    volume = int(node.number("volume", default=80, minimum=0, integer=True))
    if volume > 100:
        raise ConfigError(node.at("volume"), "not_percent")
    return VoiceSettings(
        enabled=node.boolean("enabled", default=False),
        volume=volume,
        directory=resolve_path(base_dir, directory) if directory else None,
    )


def _survey_invite(node: SettingsNode) -> str:
    node.allow_only("invite")
    return node.choice("invite", SURVEY_INVITES, default="after_thanks")


def _optional_number(node: SettingsNode, key: str) -> float | None:
    """A positive number that may be left out."""
    if not isinstance(node.value, dict) or node.value.get(key) is None:
        return None
    return node.number(key, default=0.0, positive=True)


def _parse(data: Any, base_dir: Path, source: Path | None) -> Settings:
    root = SettingsNode(data if data is not None else {}, "")
    root.expect_mapping()
    root.allow_only(*COMMUNE_SECTIONS, *DEVICE_SECTIONS)
    commune = parse_commune(root, base_dir, reason_type=Reason)

    counter = root.child("counter")
    attribution = root.child("attribution")
    display = root.child("display", optional=True)
    server = root.child("server", optional=True)
    technician = root.child("technician", optional=True)
    storage = root.child("storage", optional=True)
    security = root.child("security", optional=True)
    counter.allow_only("id", "name")
    attribution.allow_only("mode", "officer")
    display.allow_only("fullscreen", "orientation", "dpi")
    server.allow_only("url")
    technician.allow_only("pin_hash")
    storage.allow_only("database")
    security.allow_only("pin_attempts", "lockout_s")

    mode = AttributionMode(attribution.choice("mode", ATTRIBUTION_MODES))
    mode_officer = attribution.string("officer", optional=True)
    officers = {o.id: o for o in commune.officers}
    if mode is AttributionMode.OFFICER and mode_officer is None:
        raise ConfigError(attribution.at("officer"), "missing")
    if mode_officer is not None and mode_officer not in officers:
        raise ConfigError(attribution.at("officer"), "no_such_officer", id=mode_officer)
    if mode is AttributionMode.OFFICER and not officers[mode_officer].active:
        raise ConfigError(attribution.at("officer"), "officer_inactive", id=mode_officer)

    server_url = server.string("url", optional=True) or ""
    if server_url and not re.match(r"^https?://[^\s/]+", server_url):
        raise ConfigError(server.at("url"), "bad_url")
    technician_pin = technician.string("pin_hash", optional=True)
    if technician_pin is not None and not is_pin_hash(technician_pin):
        raise ConfigError(technician.at("pin_hash"), "bad_pin_hash")

    return Settings(
        source=source,
        commune_name=commune.name,
        hotline=commune.hotline,
        leaders=commune.leaders,
        counter_id=counter.slug("id"),
        counter_name=counter.string("name"),
        mode=mode,
        mode_officer=mode_officer,
        officers=commune.officers,
        scale=commune.scale,
        burst_interval_s=commune.burst_interval_s,
        reasons_on_high=commune.reasons_on_high,
        low_reasons=commune.low_reasons,
        high_reasons=commune.high_reasons,
        working_hours=commune.working_hours,
        timeouts=commune.timeouts,
        language=commune.language,
        fullscreen=display.boolean("fullscreen", default=True),
        orientation=display.choice("orientation", ORIENTATIONS, default="auto"),
        server_url=server_url,
        technician_pin_hash=technician_pin,
        database=resolve_path(base_dir, storage.string("database", optional=True) or "data/hailong.db"),
        pin_attempts=int(security.number("pin_attempts", default=5, positive=True, integer=True)),
        pin_lockout_s=security.number("lockout_s", default=60.0, positive=True),
        display_dpi=_optional_number(display, "dpi"),
        correction_window_s=_correction_window(root.child("correction", optional=True)),
        handover=_handover(root.child("handover", optional=True)),
        voice=_voice(root.child("voice", optional=True), base_dir),
        survey_invite=_survey_invite(root.child("survey", optional=True)),
        raw=data if isinstance(data, dict) else {},
    )
