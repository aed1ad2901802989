"""Stand-ins for the screens, for testing the kiosk's controllers without a
window: a navigator that only remembers which screen it shows, and screens
that only remember what they were told."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import Settings, load_settings
from kiosk.desk import DeviceClock, RatingDesk
from kiosk.pin import PinGuard
from kiosk.store import Store
from tests.conftest import write_config


class FakeScreen:
    """Remembers what a controller told it; draws nothing."""

    def __init__(self, name: str):
        self.name = name
        self.message = ""
        self.officer = None
        self.purpose = None
        self.told: list[tuple] = []

    # Each method stands for the real screen's method of the same name.
    def ask(self, officer, purpose) -> FakeScreen:
        self.officer, self.purpose, self.message = officer, purpose, ""
        self.told.append(("ask", officer.id if officer else None, purpose))
        return self

    def show_reasons(self, reasons, label_for, low: bool) -> None:
        self.reason_ids = [r.id for r in reasons]
        self.reason_labels = [label_for(r) for r in reasons]
        self.low = low

    def reset(self) -> None:
        self.told.append(("reset",))

    def show_officers(self, officers, on_duty=None) -> None:
        self.officers = list(officers)
        self.on_duty = on_duty

    def show(self, officer, day, levels, label_for, reason_label) -> None:
        self.officer, self.day = officer, day
        self.level_labels = [label_for(level.key) for level in levels]

    def open_section(self, name: str) -> None:
        self.section = name

    def show_level(self, level, can_correct: bool) -> None:
        self.level, self.can_correct = level.key, can_correct

    def ask_for_rating(self, officer, dossier_code) -> None:
        self.officer, self.purpose, self.dossier_code = officer, "handover", dossier_code

    def ask_again(self, officer, wait_s) -> None:
        self.officer, self.purpose = officer, "again"

    def wait_for_handover(self, officer) -> None:
        self.officer, self.purpose = officer, "waiting"


class FakeNavigator:
    """A :class:`kiosk.navigator.Navigator` over :class:`FakeScreen` objects."""

    def __init__(self) -> None:
        self.screens: dict[str, FakeScreen] = {}
        self.current = ""
        self.shown: list[str] = []

    def screen(self, name: str) -> FakeScreen:
        return self.screens.setdefault(name, FakeScreen(name))

    def show(self, name: str) -> FakeScreen:
        self.current = name
        self.shown.append(name)
        return self.screen(name)


@dataclass
class Counter:
    """A desk on a real store, with everything a controller needs beside it."""

    settings: Settings
    store: Store
    desk: RatingDesk
    navigator: FakeNavigator = field(default_factory=FakeNavigator)
    applied: list[Settings] = field(default_factory=list)

    def pins(self) -> PinGuard:
        return PinGuard(
            attempts=self.settings.pin_attempts,
            lockout_s=self.settings.pin_lockout_s,
            load=self.store.pin_state,
            save=self.store.save_pin_state,
            clock=lambda: self.desk.clock.now().timestamp(),
        )

    def apply_settings(self, settings: Settings) -> None:
        """What the app does with new settings, as far as the controllers see it."""
        self.applied.append(settings)
        self.settings = settings
        self.desk.settings = settings

    def actions(self) -> list[tuple[str, str]]:
        return [(e["action"], e["actor"]) for e in self.store.audit_log()]


def open_counter(directory: Path, tree: dict, clock: DeviceClock | None = None) -> Counter:
    """The demo config ``tree`` written in ``directory``, its store and desk opened."""
    settings = load_settings(write_config(directory, tree))
    store = Store(settings.database)
    return Counter(settings, store, RatingDesk(settings, store, clock))
