"""The kiosk's Kivy app: the screens and the citizen's path through them.

The rules (who is rated, is the counter open, how a tap is recorded) live in
:class:`kiosk.desk.RatingDesk`; this module only decides which screen shows
what, and hands taps to the desk. Import it only after Kivy is configured
(see ``main.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk import i18n
from kiosk.config import Officer, Settings
from kiosk.desk import CounterClosed, DeviceClock, RatingDesk
from kiosk.pin import PinGuard
from kiosk.screens.callback import CallbackScreen
from kiosk.screens.choose import ChooseScreen
from kiosk.screens.closed import ClosedScreen
from kiosk.screens.rate import RateScreen
from kiosk.screens.pin import PinScreen
from kiosk.screens.reasons import ReasonsScreen
from kiosk.screens.signin import SignInScreen
from kiosk.screens.thanks import ThanksScreen
from kiosk.store import Store
from sync.record import Record

__all__ = ["KioskApp", "load_kv", "Visit"]

_KV_FILES = [
    "widgets/widgets.kv",
    "screens/rate.kv",
    "screens/choose.kv",
    "screens/reasons.kv",
    "screens/callback.kv",
    "screens/thanks.kv",
    "screens/closed.kv",
    "screens/signin.kv",
    "screens/pin.kv",
]
_kv_loaded = False

# How often the idle screens look again at the clock and the shift (opening
# hours begin and end while nobody touches the tablet).
IDLE_RECHECK_S = 20.0


def load_kv() -> None:
    """Load every kv file exactly once, widgets first (screens use them)."""
    global _kv_loaded
    if _kv_loaded:
        return
    # Registered before the kv rules refer to them.
    from kiosk.widgets import button, card, chip, hidden, keypad, portrait, qr, smiley  # noqa: F401

    here = Path(__file__).parent
    for name in _KV_FILES:
        Builder.load_file(str(here / name))
    _kv_loaded = True


@dataclass
class Visit:
    """One citizen's pass through the screens, from the tap to idle."""

    officer: Officer
    rating: Record | None = None
    reasons: list[str] = field(default_factory=list)
    phone: str = ""
    consent: bool = False
    details_saved: bool = False


class KioskApp(App):
    """The kiosk. ``settings`` come validated from ``config.yaml``."""

    u = NumericProperty(8.0)
    """One percent of the window's short side, in pixels: the unit of every size in kv."""

    portrait = BooleanProperty(False)
    """The window is taller than wide."""

    language = StringProperty("vi")
    """The language shown now; back to the configured one after each visit."""

    commune_name = StringProperty("")
    """Shown in the header band."""

    counter_name = StringProperty("")
    """Shown under the commune's name."""

    settings = ObjectProperty(None)
    """The validated :class:`kiosk.config.Settings`."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: DeviceClock | None = None, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.store = store or Store(settings.database)
        self.desk = RatingDesk(settings, self.store, clock)
        self.pins = PinGuard(
            attempts=settings.pin_attempts,
            lockout_s=settings.pin_lockout_s,
            load=self.store.pin_state,
            save=self.store.save_pin_state,
            clock=lambda: self.desk.clock.now().timestamp(),
        )
        self.visit: Visit | None = None
        self.commune_name = settings.commune_name
        self.counter_name = settings.counter_name
        self.language = settings.language
        i18n.set_language(settings.language)
        self.title = self.tr("app.title")
        self._recheck = None

    # -- Kivy lifecycle -------------------------------------------------------

    def get_application_config(self, defaultpath: str = "%(appdir)s/%(appname)s.ini") -> str:
        # Kivy's own ini goes beside the database, never into the package.
        return str(self.settings.database.parent / "kiosk.ini")

    def build(self) -> ScreenManager:
        load_kv()
        Window.bind(size=self._on_window_size)
        self._on_window_size(Window, Window.size)
        manager = ScreenManager(transition=NoTransition())
        for screen in (
            ClosedScreen(name="closed"),
            ChooseScreen(name="choose"),
            RateScreen(name="rate"),
            ReasonsScreen(name="reasons"),
            CallbackScreen(name="callback"),
            ThanksScreen(name="thanks"),
            SignInScreen(name="signin"),
            PinScreen(name="pin"),
        ):
            manager.add_widget(screen)
        levels = self.desk.scale.best_first
        manager.get_screen("rate").show_scale(levels, self._level_label)
        manager.get_screen("choose").show_officers(self.settings.active_officers)
        return manager

    def on_start(self) -> None:
        Window.bind(on_request_close=self._refuse_close)
        self.go_idle()
        self._recheck = Clock.schedule_interval(lambda _dt: self._recheck_idle(), IDLE_RECHECK_S)

    def on_stop(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        Window.unbind(size=self._on_window_size)
        Window.unbind(on_request_close=self._refuse_close)

    def _refuse_close(self, *_args, **_kwargs) -> bool:
        # A citizen must not close the kiosk; the technician's panel will offer exit.
        return self.settings.fullscreen

    def _on_window_size(self, _window, size) -> None:
        width, height = size
        self.u = min(width, height) / 100.0
        self.portrait = height > width

    # -- words ------------------------------------------------------------------

    def tr(self, key: str, _language: str | None = None, **values) -> str:
        """Translate ``key``. kv passes ``app.language`` as the second argument so
        that every label updates when the language changes."""
        return i18n.catalogue(_language or self.language).get(key, **values)

    def toggle_language(self) -> None:
        """Switch between Vietnamese and English for this visit."""
        self.set_language("en" if self.language == "vi" else "vi")

    def set_language(self, language: str) -> None:
        i18n.set_language(language)
        self.language = language
        if self.root is not None:
            self.root.get_screen("rate").relabel(self._level_label)

    def _level_label(self, key: str) -> str:
        return self.tr(f"level.{key}")

    @staticmethod
    def format_phone(digits: str) -> str:
        """Group a phone number for reading back: 0912 345 678."""
        groups = [digits[:4], digits[4:7], digits[7:]]
        return " ".join(g for g in groups if g)

    # -- the citizen's path ---------------------------------------------------

    @property
    def current(self):
        """The screen showing now."""
        return self.root.current_screen

    def show(self, name: str):
        """Bring a screen to the front and return it."""
        self.root.current = name
        return self.root.get_screen(name)

    def go_idle(self) -> None:
        """Back to the idle screen the counter's state calls for."""
        self.visit = None
        if self.language != self.settings.language:
            self.set_language(self.settings.language)
        reason = self.desk.closed_reason()
        if reason is not None:
            closed = self.root.get_screen("closed")
            closed.reason = reason
            closed.hours = self.settings.working_hours.describe(self.desk.clock.now()) or self.tr(
                "closed.no_hours"
            )
            self.show("closed")
        elif self.settings.mode == "choose":
            self.show("choose")
        else:
            rate = self.root.get_screen("rate")
            rate.officer = self.desk.officer_on_duty()
            rate.can_go_back = False
            self.show("rate")

    def _recheck_idle(self) -> None:
        if self.visit is None and self.root.current in ("closed", "choose", "rate"):
            self.go_idle()

    def choose_officer(self, officer: Officer) -> None:
        """``choose`` mode: the citizen picked who served them."""
        self.visit = Visit(officer)
        rate = self.root.get_screen("rate")
        rate.officer = officer
        rate.can_go_back = True
        self.show("rate")

    def rate(self, score: int) -> None:
        """A face was tapped: record the rating now, then ask for details."""
        officer = self.visit.officer if self.visit else self.desk.officer_on_duty()
        if officer is None:
            self.go_idle()
            return
        try:
            record = self.desk.rate(officer.id, score)
        except CounterClosed:
            self.go_idle()
            return
        self.visit = Visit(officer, rating=record)
        level = self.desk.scale.level(score)
        if level.low and self.settings.low_reasons:
            self._ask_reasons(self.settings.low_reasons, low=True)
        elif not level.low and self.settings.reasons_on_high and self.settings.high_reasons:
            self._ask_reasons(self.settings.high_reasons, low=False)
        else:
            self._thank()

    def _ask_reasons(self, reasons, low: bool) -> None:
        screen = self.root.get_screen("reasons")
        screen.show_reasons(reasons, lambda r: r.label(self.language), low)
        self.show("reasons")

    def reasons_done(self, reasons: list[str], thank: bool = True) -> None:
        """Reasons chosen (maybe none); ``thank=False`` when the screen timed out."""
        if self.visit is None:
            return self.go_idle()
        self.visit.reasons = list(reasons)
        self._save_details()
        self._thank() if thank else self.go_idle()

    def request_callback(self, reasons: list[str]) -> None:
        """The citizen wants a leader to call back: take the number next."""
        if self.visit is None:
            return self.go_idle()
        self.visit.reasons = list(reasons)
        self.root.get_screen("callback").reset()
        self.show("callback")

    def callback_done(self, phone: str, consent: bool, thank: bool = True) -> None:
        """Number given (or declined); ``thank=False`` when the screen timed out."""
        if self.visit is None:
            return self.go_idle()
        self.visit.phone, self.visit.consent = phone, consent
        self._save_details()
        self._thank() if thank else self.go_idle()

    def end_visit(self) -> None:
        """A screen timed out: keep what was tapped, then back to idle."""
        if self.visit is not None:
            self._save_details()
        self.go_idle()

    def _save_details(self) -> None:
        visit = self.visit
        if visit is None or visit.rating is None or visit.details_saved:
            return
        self.desk.add_details(visit.rating, visit.reasons, visit.phone or None, consent=visit.consent)
        visit.details_saved = True

    def _thank(self) -> None:
        thanks = self.root.get_screen("thanks")
        visit = self.visit
        thanks.comment_url = (
            self.desk.comment_url(visit.rating) if visit and visit.rating and self.settings.server_url else ""
        )
        thanks.callback_noted = bool(visit and visit.consent and visit.phone)
        self.show("thanks")

    # -- officers at the counter ----------------------------------------------

    def open_signin(self) -> None:
        """The hidden entry (long press on the commune's name)."""
        if self.settings.mode != "counter" or self.visit is not None:
            return
        screen = self.root.get_screen("signin")
        screen.show_officers(self.settings.active_officers, self.desk.officer_on_duty())
        self.show("signin")

    def ask_pin(self, officer: Officer) -> None:
        """An officer picked their portrait: their PIN next."""
        on_duty = self.desk.officer_on_duty()
        self.show("pin").ask(officer, ends_shift=on_duty is not None and on_duty.id == officer.id)

    def submit_pin(self, officer: Officer, pin_entered: str) -> None:
        """Check an officer's PIN; start their shift, or end it if they are on duty."""
        screen = self.root.get_screen("pin")
        subject = f"officer:{officer.id}"
        locked = self.pins.locked_for(subject)
        if locked > 0:
            screen.message = self.tr("signin.locked", seconds=int(locked + 0.999))
            return
        if officer.pin_hash is None:
            screen.message = self.tr("signin.no_pin")
            return
        accepted, left = self.pins.check(subject, pin_entered, officer.pin_hash)
        if not accepted:
            locked = self.pins.locked_for(subject)
            if locked > 0:
                self.store.audit("pin_lockout", actor=officer.id, detail={"seconds": locked})
                screen.message = self.tr("signin.locked", seconds=int(locked + 0.999))
            else:
                screen.message = self.tr("signin.wrong", left=left)
            return
        on_duty = self.desk.officer_on_duty()
        if on_duty is not None and on_duty.id == officer.id:
            self.desk.sign_out()
            Logger.info("Kiosk: shift of %s ended", officer.id)
        else:
            self.desk.sign_in(officer.id)
            Logger.info("Kiosk: %s signed in", officer.id)
        self.go_idle()
