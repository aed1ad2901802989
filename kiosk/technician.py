"""The technician's actions: change a setting, the officers (active or not,
a new PIN, a portrait, a new officer), and the only way out of the kiosk.

:class:`TechnicianPanel` writes ``config.yaml`` through
:class:`kiosk.config_file.ConfigFile`, audits every change, and hands the new
settings to the app to apply. It draws nothing: the technician's screen and
the PIN screen are reached through a :class:`kiosk.navigator.Navigator`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import ConfigError, Officer, Settings, officer_id_for
from kiosk.config_file import ConfigFile, RosterLocked
from kiosk.desk import RatingDesk
from kiosk.navigator import Navigator, Words
from kiosk.pin import is_valid_pin
from kiosk.staff import TECHNICIAN, PinPurpose

__all__ = ["TechnicianPanel"]

# What a refused officer change can raise: a bad value, a roster that the
# server decides, a file that cannot be written.
_REFUSALS = (ConfigError, RosterLocked, ValueError, OSError)


class TechnicianPanel:
    """What the technician does once their PIN is accepted.

    ``apply_settings`` puts new settings in force at once; ``roster_locked``
    tells whether the server's roster decides the officers; ``stop`` ends the
    app.
    """

    def __init__(
        self,
        desk: RatingDesk,
        navigator: Navigator,
        words: Words,
        apply_settings: Callable[[Settings], None],
        roster_locked: Callable[[], bool],
        stop: Callable[[], None],
    ):
        self.desk = desk
        self.navigator = navigator
        self.words = words
        self.apply_settings = apply_settings
        self.roster_locked = roster_locked
        self.stop = stop
        self._first_new_pin = ""

    def _config_file(self) -> ConfigFile:
        return ConfigFile(self.desk.settings.source)

    # -- settings -------------------------------------------------------------------

    def change_settings(self, changes: dict[str, Any]) -> Settings:
        """Validate, write and apply a change of config.yaml. Raises ConfigError."""
        new = self._config_file().set_values(changes)
        self.desk.store.audit("settings_change", actor=TECHNICIAN, detail={k: str(v) for k, v in changes.items()})
        self.apply_settings(new)
        return new

    def describe_error(self, exc: Exception) -> str:
        """An error's words in the language shown now."""
        if isinstance(exc, ConfigError):
            return f"{exc.path}: {exc.message(self.words.language)}"
        message = getattr(exc, "message", None)  # RosterLocked, ExportError
        return message(self.words.language) if callable(message) else str(exc)

    # -- officers -------------------------------------------------------------------

    def _officer_change(self, change: Callable[[ConfigFile], Settings], action: str, detail: dict) -> None:
        """Apply an officer change made on the tablet, audit it, refresh the list."""
        tech = self.navigator.screen("tech")
        try:
            new = change(self._config_file())
        except _REFUSALS as exc:
            tech.message = self.words.tr("tech.refused", problem=self.describe_error(exc))
            return
        self.desk.store.audit(action, actor=TECHNICIAN, detail=detail)
        self.apply_settings(new)
        tech.open_section("officers")
        tech.message = self.words.tr("tech.saved")

    def toggle_active(self, officer: Officer) -> None:
        """An officer on leave is no longer offered to citizens, and back."""
        self._officer_change(
            lambda f: f.set_officer_active(officer.id, not officer.active, roster_locked=self.roster_locked()),
            "officer_active", {"officer": officer.id, "active": not officer.active},
        )

    def ask_new_pin(self, officer: Officer) -> None:
        """Ask for an officer's new PIN, twice."""
        self.navigator.show("pin").ask(officer, PinPurpose.NEW_PIN)

    def new_pin_entered(self, officer: Officer, pin_entered: str) -> None:
        """A new PIN typed: once, then again; saved when both agree."""
        screen = self.navigator.screen("pin")
        if not is_valid_pin(pin_entered):
            screen.message = self.words.tr("staff.pin_invalid")
        elif screen.purpose == PinPurpose.NEW_PIN:
            self._first_new_pin = pin_entered
            screen.ask(officer, PinPurpose.NEW_PIN_AGAIN)
        elif pin_entered != self._first_new_pin:
            screen.ask(officer, PinPurpose.NEW_PIN)
            screen.message = self.words.tr("staff.pin_mismatch")
        else:
            self.navigator.show("tech")
            self._officer_change(
                lambda f: f.set_officer_pin(officer.id, pin_entered, roster_locked=self.roster_locked()),
                "officer_pin_set", {"officer": officer.id},
            )

    def set_photo(self, officer: Officer, path: Path) -> None:
        """Use the picture at ``path`` as the officer's portrait."""
        self._officer_change(
            lambda f: f.set_officer_photo(officer.id, Path(path), roster_locked=self.roster_locked()),
            "officer_photo", {"officer": officer.id},
        )

    def add_officer(self, name: str, title: str) -> str:
        """Add an officer to the roster; the refusal in words, or "" when saved."""
        settings = self.desk.settings
        try:
            new = self._config_file().add_officer(
                officer_id_for(name, [o.id for o in settings.officers]), name, title, None,
                roster_locked=self.roster_locked(),
            )
        except _REFUSALS as exc:
            return self.describe_error(exc)
        self.desk.store.audit("officer_add", actor=TECHNICIAN, detail={"name": name})
        self.apply_settings(new)
        self.navigator.screen("tech").open_section("officers")
        return ""

    # -- leaving ----------------------------------------------------------------------

    def exit_kiosk(self) -> None:
        """Leave the kiosk (only from the technician's panel)."""
        self.desk.store.audit("exit", actor=TECHNICIAN)
        self.stop()
