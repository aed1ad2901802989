"""Behind the hidden entry: the staff menu, an officer's sign-in with their
portrait and PIN, shifts at the counter, and the officer's own day.

:class:`StaffFlow` draws nothing: it reaches the screens through a
:class:`kiosk.navigator.Navigator`, checks PINs with a
:class:`kiosk.pin.PinGuard` and opens and closes shifts at the
:class:`kiosk.desk.RatingDesk`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from kivy.logger import Logger

from kiosk.config import AttributionMode, Officer
from kiosk.desk import RatingDesk
from kiosk.navigator import Navigator, Words
from kiosk.pin import PinGuard
from kiosk.visit import VisitFlow, reason_label

if TYPE_CHECKING:
    from kiosk.technician import TechnicianPanel

__all__ = ["TECHNICIAN", "PinPurpose", "StaffChoice", "StaffFlow"]

# Who a PIN belongs to when no officer is named: the lock-out and the audit
# log call the technician this.
TECHNICIAN = "technician"


class StaffChoice(StrEnum):
    """What the staff menu offers."""

    SHIFT = "shift"
    """Start or end one's shift at this counter (``counter`` mode only)."""
    DAY = "day"
    """See one's own day."""
    TECH = "tech"
    """The technician's panel."""


class PinPurpose(StrEnum):
    """What a PIN is asked for; the PIN screen's words follow it."""

    SHIFT_START = "shift_start"
    SHIFT_END = "shift_end"
    DAY = "day"
    TECH = "tech"
    NEW_PIN = "new_pin"
    """The technician sets an officer's new PIN..."""
    NEW_PIN_AGAIN = "new_pin_again"
    """...and types it again."""

    @property
    def sets_pin(self) -> bool:
        """A new PIN is being typed, not an existing one checked."""
        return self in (PinPurpose.NEW_PIN, PinPurpose.NEW_PIN_AGAIN)


class StaffFlow:
    """The staff menu and what follows it, up to the officer's day, a shift
    begun or ended, or the technician's panel."""

    def __init__(
        self,
        desk: RatingDesk,
        pins: PinGuard,
        navigator: Navigator,
        words: Words,
        visits: VisitFlow,
        technician: TechnicianPanel,
    ):
        self.desk = desk
        self.pins = pins
        self.navigator = navigator
        self.words = words
        self.visits = visits
        self.technician = technician
        self.picking = StaffChoice.SHIFT
        """What the portrait the officer picks next is for."""

    @property
    def counter_mode(self) -> bool:
        """Officers sign in for shifts at this counter."""
        return self.desk.settings.mode == AttributionMode.COUNTER

    def open_staff(self) -> None:
        """The hidden entry (long press on the commune's name): the staff menu."""
        if self.visits.in_progress:
            return
        self.navigator.show("staff")

    def choose(self, choice: StaffChoice | str) -> None:
        """A staff menu choice: ``shift`` or ``day`` pick a portrait, then the
        PIN; ``tech`` asks for the technician's PIN."""
        choice = StaffChoice(choice)
        if choice is StaffChoice.TECH:
            self.ask(None, PinPurpose.TECH)
        elif choice is StaffChoice.SHIFT and not self.counter_mode:
            return
        else:
            self.picking = choice
            settings = self.desk.settings
            self.navigator.show("signin").show_officers(settings.active_officers, self.desk.officer_on_duty())

    def open_signin(self) -> None:
        """Straight to the shift sign-in (``counter`` mode, nobody being served)."""
        if self.counter_mode and not self.visits.in_progress:
            self.choose(StaffChoice.SHIFT)

    def officer_picked(self, officer: Officer) -> None:
        """An officer picked their portrait: their PIN next."""
        if self.picking is StaffChoice.DAY:
            purpose = PinPurpose.DAY
        else:
            on_duty = self.desk.officer_on_duty()
            ending = on_duty is not None and on_duty.id == officer.id
            purpose = PinPurpose.SHIFT_END if ending else PinPurpose.SHIFT_START
        self.ask(officer, purpose)

    def ask(self, officer: Officer | None, purpose: PinPurpose) -> None:
        """Show the PIN screen for ``officer`` (``None``: the technician)."""
        self.navigator.show("pin").ask(officer, purpose)

    def submit_pin(self, officer: Officer | None, pin_entered: str) -> None:
        """Check a PIN (an officer's, or the technician's when ``officer`` is None)
        and carry out what it was asked for."""
        screen = self.navigator.screen("pin")
        purpose = PinPurpose(screen.purpose)
        if purpose.sets_pin:
            return self.technician.new_pin_entered(officer, pin_entered)
        subject = f"officer:{officer.id}" if officer else TECHNICIAN
        stored = officer.pin_hash if officer else self.desk.settings.technician_pin_hash
        if self._show_lockout(subject, screen):
            return
        if stored is None:
            screen.message = self.words.tr("signin.no_pin")
            return
        accepted, left = self.pins.check(subject, pin_entered, stored)
        if not accepted:
            if self._show_lockout(subject, screen):  # this failure began a lock-out
                self.desk.store.audit("pin_lockout", actor=subject, detail={"seconds": self.pins.locked_for(subject)})
            else:
                screen.message = self.words.tr("signin.wrong", left=left)
            return
        if purpose is PinPurpose.TECH:
            self.desk.store.audit("technician_login", actor=TECHNICIAN)
            self.navigator.show("tech")
        elif purpose is PinPurpose.DAY:
            self.show_day(officer)
        elif purpose is PinPurpose.SHIFT_END:
            self.desk.sign_out()
            Logger.info("Kiosk: shift of %s ended", officer.id)
            self.visits.go_idle()
        else:
            self.desk.sign_in(officer.id)
            Logger.info("Kiosk: %s signed in", officer.id)
            self.visits.go_idle()

    def _show_lockout(self, subject: str, screen) -> bool:
        """Tell how long ``subject`` is locked out, if it is; True when locked."""
        locked = self.pins.locked_for(subject)
        if locked > 0:
            screen.message = self.words.tr("signin.locked", seconds=int(locked + 0.999))
        return locked > 0

    def show_day(self, officer: Officer) -> None:
        """The officer's own figures: today, and the last days."""
        from kiosk.daybook import officer_day

        day = officer_day(self.desk.store, officer.id, self.desk.clock.now().date())
        self.navigator.show("day").show(
            officer,
            day,
            self.desk.scale.best_first,
            lambda key: self.words.tr(f"level.{key}"),
            lambda reason_id: reason_label(self.desk.settings, self.words.language, reason_id),
        )
