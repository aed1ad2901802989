"""The kiosk's Kivy app: the screens and the citizen's path through them.

The rules (who is rated, is the counter open, how a tap is recorded) live in
:class:`kiosk.desk.RatingDesk`; this module only decides which screen shows
what, and hands taps to the desk. Import it only after Kivy is configured
(see ``main.py``).
"""

from __future__ import annotations

import threading
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
from kiosk.config import ConfigError, Officer, Settings, officer_id_for
from kiosk.config_file import RosterLocked
from kiosk.desk import CounterClosed, DeviceClock, RatingDesk
from kiosk.pin import PinGuard
from kiosk.roster import try_settings_with_roster
from kiosk.screens.callback import CallbackScreen
from kiosk.screens.choose import ChooseScreen
from kiosk.screens.closed import ClosedScreen
from kiosk.screens.rate import RateScreen
from kiosk.screens.day import DayScreen
from kiosk.screens.pin import PinScreen
from kiosk.screens.reasons import ReasonsScreen
from kiosk.screens.signin import SignInScreen
from kiosk.screens.staff import StaffScreen
from kiosk.screens.tech import TechScreen
from kiosk.screens.thanks import ThanksScreen
from kiosk.store import Store
from sync.record import Record
from sync.scale import MIN_RATINGS_TO_JUDGE

__all__ = ["EXIT_BY_TECHNICIAN", "KioskApp", "load_kv", "Visit"]

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
    "screens/staff.kv",
    "screens/day.kv",
    "screens/tech.kv",
    "widgets/dialogs.kv",
]
_kv_loaded = False

# The exit status after the technician's "exit": the service manager restarts
# the kiosk after anything else (a crash), but not after this.
EXIT_BY_TECHNICIAN = 64

# How often the tablet asks the server for a newer roster (a 304 costs little).
ROSTER_REFRESH_S = 300.0

# The screens a counter rests on when nobody is being served.
IDLE_SCREENS = ("closed", "choose", "rate")

# How often the idle screens look again at the clock and the shift (opening
# hours begin and end while nobody touches the tablet).
IDLE_RECHECK_S = 20.0


def load_kv() -> None:
    """Load every kv file exactly once, widgets first (screens use them)."""
    global _kv_loaded
    if _kv_loaded:
        return
    # Registered before the kv rules refer to them.
    from kiosk.widgets import button, card, charts, chip, dialogs, hidden, keypad, portrait, qr, smiley  # noqa: F401

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

    sync_text = StringProperty("")
    """The sync state in words, for the technician."""

    min_to_judge = NumericProperty(MIN_RATINGS_TO_JUDGE)
    """Fewer ratings than this are "too few to judge by"."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: DeviceClock | None = None, **kwargs):
        super().__init__(**kwargs)
        self.store = store or Store(settings.database)
        self._roster = self._cached_roster()
        settings, problem = try_settings_with_roster(settings, self._roster)
        if problem is not None:
            Logger.warning("Kiosk: the server's roster is not applied: %s", problem.line())
        self.settings = settings
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
        self._roster_timer = None
        self._pending_roster = None
        self._roster_link = None
        self._roster_fetching = False
        self._uploader = None
        self._pick_purpose = "shift"
        self._first_new_pin = ""
        self.exited_by_technician = False

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
            StaffScreen(name="staff"),
            DayScreen(name="day"),
            TechScreen(name="tech"),
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
        self.start_sync()
        self.refresh_roster()
        self._roster_timer = Clock.schedule_interval(lambda _dt: self.refresh_roster(), ROSTER_REFRESH_S)

    def on_stop(self) -> None:
        for timer in (self._recheck, self._roster_timer):
            if timer is not None:
                timer.cancel()
        if self._roster_link is not None and not self._roster_fetching:
            self._roster_link[1].close()
        self.stop_sync()
        Window.unbind(size=self._on_window_size)
        Window.unbind(on_request_close=self._refuse_close)

    def _refuse_close(self, *_args, **_kwargs) -> bool:
        # A citizen must not close the kiosk: only the technician's "exit" may.
        return self.settings.fullscreen and not self.exited_by_technician

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
            for chip in self.root.get_screen("reasons").chips():
                chip.text = self._reason_label(chip.reason_id)

    def _level_label(self, key: str) -> str:
        return self.tr(f"level.{key}")

    @staticmethod
    def format_phone(digits: str) -> str:
        """Group a phone number for reading back: 0912 345 678."""
        groups = [digits[:4], digits[4:7], digits[7:]]
        return " ".join(g for g in groups if g)

    # -- the citizen's path ---------------------------------------------------

    def show(self, name: str):
        """Bring a screen to the front and return it."""
        self.root.current = name
        return self.root.get_screen(name)

    def go_idle(self, *, keep_language: bool = False) -> None:
        """Back to the idle screen the counter's state calls for; a server
        roster that arrived during a visit is applied now."""
        self.visit = None
        if self._pending_roster is not None:
            roster, self._pending_roster = self._pending_roster, None
            self._apply_roster(roster)
        if self.language != self.settings.language and not keep_language:
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
        # A citizen who chose English and has not tapped yet keeps it.
        if self.visit is None and self.root.current in IDLE_SCREENS:
            self.go_idle(keep_language=True)

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
        except (CounterClosed, KeyError):
            # Closed meanwhile, or the officer left the roster: nothing to
            # record; the idle screen shows what is true now.
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

    # -- staff behind the hidden entry ------------------------------------------

    def open_staff(self) -> None:
        """The hidden entry (long press on the commune's name): the staff menu."""
        if self.visit is not None:
            return
        self.show("staff")

    def staff_action(self, purpose: str) -> None:
        """``shift`` or ``day``: pick a portrait, then the PIN; ``tech``: the technician's PIN."""
        if purpose == "tech":
            self.show("pin").ask(None, "tech")
        elif purpose == "shift" and self.settings.mode != "counter":
            return
        else:
            self._pick_purpose = purpose
            self.show("signin").show_officers(self.settings.active_officers, self.desk.officer_on_duty())

    def open_signin(self) -> None:
        """Straight to the shift sign-in (counter mode)."""
        if self.settings.mode == "counter" and self.visit is None:
            self.staff_action("shift")

    def ask_pin(self, officer: Officer) -> None:
        """An officer picked their portrait: their PIN next."""
        purpose = self._pick_purpose
        if purpose == "shift":
            on_duty = self.desk.officer_on_duty()
            purpose = "shift_end" if on_duty is not None and on_duty.id == officer.id else "shift_start"
        self.show("pin").ask(officer, purpose)

    def submit_pin(self, officer: Officer | None, pin_entered: str) -> None:
        """Check a PIN (an officer's, or the technician's when ``officer`` is None)
        and carry out what it was asked for."""
        screen = self.root.get_screen("pin")
        if screen.purpose in ("new_pin", "new_pin_again"):
            return self._new_pin_entered(officer, pin_entered)
        subject = f"officer:{officer.id}" if officer else "technician"
        stored = officer.pin_hash if officer else self.settings.technician_pin_hash
        if self._show_lockout(subject, screen):
            return
        if stored is None:
            screen.message = self.tr("signin.no_pin")
            return
        accepted, left = self.pins.check(subject, pin_entered, stored)
        if not accepted:
            if self._show_lockout(subject, screen):  # this failure began a lock-out
                self.store.audit("pin_lockout", actor=subject, detail={"seconds": self.pins.locked_for(subject)})
            else:
                screen.message = self.tr("signin.wrong", left=left)
            return
        if screen.purpose == "tech":
            self.store.audit("technician_login", actor="technician")
            self.show("tech")
        elif screen.purpose == "day":
            self._show_day(officer)
        elif screen.purpose == "shift_end":
            self.desk.sign_out()
            Logger.info("Kiosk: shift of %s ended", officer.id)
            self.go_idle()
        else:
            self.desk.sign_in(officer.id)
            Logger.info("Kiosk: %s signed in", officer.id)
            self.go_idle()

    def _show_lockout(self, subject: str, screen) -> bool:
        """Tell how long ``subject`` is locked out, if it is; True when locked."""
        locked = self.pins.locked_for(subject)
        if locked > 0:
            screen.message = self.tr("signin.locked", seconds=int(locked + 0.999))
        return locked > 0

    def _show_day(self, officer: Officer) -> None:
        from kiosk.daybook import officer_day

        day = officer_day(self.store, officer.id, self.desk.clock.now().date())
        screen = self.show("day")
        screen.show(
            officer,
            day,
            self.desk.scale.best_first,
            self._level_label,
            lambda reason_id: self._reason_label(reason_id),
        )

    def _reason_label(self, reason_id: str) -> str:
        for reason in (*self.settings.low_reasons, *self.settings.high_reasons):
            if reason.id == reason_id:
                return reason.label(self.language)
        key = f"reason.{reason_id}"
        return self.tr(key) if i18n.catalogue(self.language).has(key) else reason_id

    # -- the technician's panel -------------------------------------------------

    def change_settings(self, changes: dict) -> Settings:
        """Validate, write and apply a change of config.yaml. Raises ConfigError."""
        from kiosk.config_file import ConfigFile

        new = ConfigFile(self.settings.source).set_values(changes)
        self.store.audit("settings_change", actor="technician", detail={k: str(v) for k, v in changes.items()})
        self.apply_settings(new)
        return new

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings at once, without a restart (the server's roster, if
        any, laid over them)."""
        settings, problem = try_settings_with_roster(settings, self._roster)
        if problem is not None:
            Logger.warning("Kiosk: the server's roster is not applied: %s", problem.line())
        server_changed = settings.server_url != self.settings.server_url
        if settings.officers != self.settings.officers:
            # A portrait may have been replaced under the same file name.
            from kivy.cache import Cache

            Cache.remove("kv.image")
            Cache.remove("kv.texture")
        self.settings = settings
        self.desk.settings = settings
        self.pins.attempts, self.pins.lockout_s = settings.pin_attempts, settings.pin_lockout_s
        self.commune_name, self.counter_name = settings.commune_name, settings.counter_name
        self.set_language(settings.language)
        if self.root is not None:
            self.root.get_screen("rate").show_scale(self.desk.scale.best_first, self._level_label)
            self.root.get_screen("choose").show_officers(settings.active_officers)
        if server_changed:
            self.stop_sync()
            self.start_sync()

    @property
    def roster_from_server(self) -> bool:
        """The roster was pushed by the commune server: officers are read-only here."""
        return self._roster is not None

    def _roster_change(self, change, action: str, detail: dict) -> None:
        """Apply an officer change made on the tablet, audit it, refresh the list."""
        from kiosk.config_file import ConfigFile

        tech = self.root.get_screen("tech")
        try:
            new = change(ConfigFile(self.settings.source))
        except (ConfigError, RosterLocked, ValueError, OSError) as exc:
            tech.message = self.tr("tech.refused", problem=self.describe_error(exc))
            return
        self.store.audit(action, actor="technician", detail=detail)
        self.apply_settings(new)
        tech.open_section("officers")
        tech.message = self.tr("tech.saved")

    def describe_error(self, exc: Exception) -> str:
        """An error's words in the current language."""
        if isinstance(exc, ConfigError):
            return f"{exc.path}: {exc.message(self.language)}"
        message = getattr(exc, "message", None)  # RosterLocked, ExportError
        return message(self.language) if callable(message) else str(exc)

    def tech_toggle_active(self, officer: Officer) -> None:
        self._roster_change(
            lambda f: f.set_officer_active(officer.id, not officer.active, roster_locked=self.roster_from_server),
            "officer_active", {"officer": officer.id, "active": not officer.active},
        )

    def tech_new_pin(self, officer: Officer) -> None:
        self.show("pin").ask(officer, "new_pin")

    def _new_pin_entered(self, officer: Officer, pin_entered: str) -> None:
        from kiosk.pin import is_valid_pin

        screen = self.root.get_screen("pin")
        if not is_valid_pin(pin_entered):
            screen.message = self.tr("staff.pin_invalid")
        elif screen.purpose == "new_pin":
            self._first_new_pin = pin_entered
            screen.ask(officer, "new_pin_again")
        elif pin_entered != self._first_new_pin:
            screen.ask(officer, "new_pin")
            screen.message = self.tr("staff.pin_mismatch")
        else:
            self.show("tech")
            self._roster_change(
                lambda f: f.set_officer_pin(officer.id, pin_entered, roster_locked=self.roster_from_server),
                "officer_pin_set", {"officer": officer.id},
            )

    def open_photo_chooser(self, officer: Officer) -> None:
        from kiosk.widgets.dialogs import open_path_dialog

        def picked(path: str) -> None:
            self._roster_change(
                lambda f: f.set_officer_photo(officer.id, Path(path), roster_locked=self.roster_from_server),
                "officer_photo", {"officer": officer.id},
            )

        open_path_dialog(self.tr("tech.choose_photo"), str(Path.home()), picked, folders_only=False,
                         filters=["*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG"])

    def open_folder_chooser(self, start: str) -> None:
        from kiosk.widgets.dialogs import open_path_dialog

        open_path_dialog(self.tr("tech.choose_folder"), start, self.root.get_screen("tech").choose_folder, folders_only=True)

    def open_add_officer(self) -> None:
        from kiosk.widgets.dialogs import AddOfficerDialog

        def save(name: str, title: str) -> str:
            from kiosk.config_file import ConfigFile

            try:
                new = ConfigFile(self.settings.source).add_officer(
                    officer_id_for(name, [o.id for o in self.settings.officers]), name, title, None,
                    roster_locked=self.roster_from_server,
                )
            except (ConfigError, RosterLocked, ValueError, OSError) as exc:
                return self.describe_error(exc)
            self.store.audit("officer_add", actor="technician", detail={"name": name})
            self.apply_settings(new)
            self.root.get_screen("tech").open_section("officers")
            return ""

        AddOfficerDialog(saved=save).open()

    def exit_kiosk(self) -> None:
        """Leave the kiosk (only from the technician's panel). ``main.py`` then
        exits with :data:`EXIT_BY_TECHNICIAN`, which the service manager does not
        restart."""
        self.store.audit("exit", actor="technician")
        self.exited_by_technician = True
        self.stop()

    def log_dir(self) -> Path | None:
        """Where Kivy writes its log files, if it does."""
        import kivy
        from kivy.config import Config

        folder = Path(kivy.kivy_home_dir) / Config.get("kivy", "log_dir")
        return folder if folder.is_dir() else None

    # -- sync ---------------------------------------------------------------------

    def credentials(self):
        """This tablet's pairing with the server, or None."""
        from kiosk.link.credentials import CredentialsError, load_credentials

        try:
            return load_credentials(self.store.device_secret_path)
        except CredentialsError:
            return None

    def start_sync(self) -> None:
        """Start the background uploader when the tablet is paired."""
        if self._uploader is not None or not self.settings.server_url or self.credentials() is None:
            self.sync_text = self._sync_words(None)
            return
        from kiosk.link.uploader import Uploader

        uploader = Uploader(
            self.store.path,
            self.settings.server_url,
            credentials_path=self.store.device_secret_path,
            # Called on the uploader's thread: hop onto the UI thread, saying
            # which uploader it was (an old one may still be finishing).
            on_status=lambda status: Clock.schedule_once(lambda _dt: self._show_sync(uploader, status)),
        )
        self._uploader = uploader
        uploader.start()

    def _cached_roster(self) -> dict | None:
        from kiosk.link.roster import RosterSync, roster_directory

        return RosterSync(roster_directory(self.store.path), link=None).cached()

    def refresh_roster(self) -> None:
        """Ask the server for a newer roster on a worker thread; apply it here.
        One fetch at a time, through one link that keeps the server's clock
        offset it has learned."""
        credentials = self.credentials()
        if credentials is None or not self.settings.server_url or self._roster_fetching:
            return
        from kiosk.link.transport import ServerLink

        key = (self.settings.server_url, credentials)
        if self._roster_link is None or self._roster_link[0] != key:
            self._roster_link = (key, ServerLink(self.settings.server_url, credentials))
        self._roster_fetching = True
        args = (self.store.path, self._roster_link[1])
        threading.Thread(target=self._fetch_roster, args=args, name="hailong-roster", daemon=True).start()

    def _fetch_roster(self, db_path: Path, link) -> None:
        from kiosk.link.roster import RosterError, RosterSync, roster_directory
        from kiosk.link.transport import TransportError

        roster = None
        try:
            roster = RosterSync(roster_directory(db_path), link).fetch()
        except (TransportError, RosterError) as exc:
            Logger.info("Kiosk: roster not fetched (%s); the last copy stays", exc)
        finally:
            Clock.schedule_once(lambda _dt: self._roster_fetched(roster))

    def _roster_fetched(self, roster: dict | None) -> None:
        self._roster_fetching = False
        if roster is not None:
            self._roster_arrived(roster)

    def _roster_arrived(self, roster: dict) -> None:
        if App.get_running_app() is not self:
            return
        if self.visit is not None:
            # Never change the officers under a citizen's fingers: apply it
            # when the visit is over.
            self._pending_roster = roster
            return
        self._apply_roster(roster)
        if self.root.current in IDLE_SCREENS:
            self.go_idle()

    def _apply_roster(self, roster: dict) -> None:
        self._roster = roster
        try:
            own = self._file_settings()
        except ConfigError as exc:
            Logger.warning("Kiosk: config.yaml no longer loads (%s); the roster waits", exc.line())
            return
        self.store.audit("roster_applied", actor="server", detail={"officers": len(roster.get("officers", []))})
        self.apply_settings(own)

    def _file_settings(self) -> Settings:
        """The tablet's own settings, as config.yaml has them (without the roster)."""
        from kiosk.config import load_settings

        return load_settings(self.settings.source) if self.settings.source else self.settings

    def stop_sync(self) -> None:
        """Tell the uploader to stop; never wait for it (it may be stuck in a
        request): its thread ends by itself, and its late reports are ignored."""
        if self._uploader is not None:
            self._uploader.stop(timeout=0)
            self._uploader = None

    def sync_now(self) -> None:
        """The technician's "sync now"."""
        if self._uploader is None:
            self.start_sync()
        else:
            self._uploader.sync_now()
        self.refresh_roster()

    def _show_sync(self, uploader, status) -> None:
        if uploader is not self._uploader:  # a late report from an uploader already stopped
            return
        self.sync_text = self._sync_words(status)

    def _sync_words(self, status) -> str:
        if status is None:
            paired = self.credentials() is not None
            return self.tr("tech.sync_state_stopped" if paired else "tech.sync_state_unpaired") + "\n" + self.tr(
                "tech.sync_pending", count=self.store.pending_count()
            )
        lines = [
            self.tr(f"tech.sync_state_{status.state}"),
            self.tr("tech.sync_pending", count=status.pending),
            self.tr("tech.sync_last_success", when=status.last_success or self.tr("tech.sync_never")),
        ]
        if status.last_error:
            lines.append(self.tr("tech.sync_last_error", error=status.last_error))
        return "\n".join(lines)
