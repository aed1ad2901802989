"""The kiosk's Kivy app: the window, the language, the screens, and the
pieces that decide what they show.

The app builds its screens from :data:`kiosk.screens.SCREENS` and wires the
controllers that draw nothing themselves:

* :class:`kiosk.visit.VisitFlow` -- the citizen's visit (``app.visits``);
* :class:`kiosk.staff.StaffFlow` -- sign-in, shifts, the officer's day (``app.staff``);
* :class:`kiosk.technician.TechnicianPanel` -- the technician's actions (``app.technician``);
* :class:`kiosk.sync_control.SyncControl` -- uploader and server roster (``app.sync``);
* :class:`kiosk.survey_flow.SurveyFlow` -- a running survey's invitation and questions (``app.surveys``).

The rules (who is rated, is the counter open, how a tap is recorded) live in
:class:`kiosk.desk.RatingDesk`. Import this module only after Kivy is
configured (see ``main.py``).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Keyboard, Window
from kivy.properties import (
    AliasProperty,
    BooleanProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.screenmanager import ScreenManager

from kiosk import i18n
from kiosk.config import AttributionMode, Officer, Settings
from kiosk.desk import DeviceClock, RatingDesk
from kiosk.handover import HandOverKeys
from kiosk.link.credentials import pin_key
from kiosk.navigator import ScreenNavigator
from kiosk.pin import PinGuard
from kiosk.screens import KioskScreens, keep_out_of_collections, load_kv
from kiosk.staff import StaffFlow
from kiosk.store import Store
from kiosk.survey_desk import SurveyDesk
from kiosk.survey_flow import SurveyFlow
from kiosk.sync_control import ROSTER_REFRESH_S, SyncControl, cached_roster, with_roster
from kiosk.technician import TechnicianPanel
from kiosk.visit import Visit, VisitFlow, reason_label
from kiosk.voice import Voice
from sync.scale import MIN_RATINGS_TO_JUDGE

__all__ = ["EXIT_BY_TECHNICIAN", "KioskApp", "Visit", "load_kv"]

# The exit status after the technician's "exit": the service manager restarts
# the kiosk after anything else (a crash), but not after this.
EXIT_BY_TECHNICIAN = 64

# The smallest target a finger taps, in millimetres on the glass.
TAP_MM = 15.0

# A landscape window fewer than this many tap targets high is "compact".
COMPACT_TAPS = 8

# How often the idle screens look again at the clock and the shift (opening
# hours begin and end while nobody touches the tablet).
IDLE_RECHECK_S = 20.0
_KEY_NAMES = {code: name for name, code in Keyboard.keycodes.items()}
"""Kivy's key names by key code (``f9``, ``enter``), as the settings name a hand-over key."""


class KioskApp(App):
    """The kiosk. ``settings`` come validated from ``config.yaml``."""

    u = NumericProperty(8.0)
    """One percent of the window's short side, in pixels: the unit of every size in kv."""

    mm = NumericProperty(96 / 25.4)
    """Pixels per millimetre on this display: Kivy's density (``Metrics.dpi``),
    or ``display.dpi`` when the settings give one."""

    tap = NumericProperty(15 * 96 / 25.4)
    """The smallest size of anything a finger taps (:data:`TAP_MM`), in pixels."""

    portrait = BooleanProperty(False)
    """The window is taller than wide."""

    compact = BooleanProperty(False)
    """A landscape window short for its targets (a 7-inch 1024x600 tablet):
    fewer than :data:`COMPACT_TAPS` 15 mm targets fit in its height, so the
    screens move their buttons beside the content rather than under it."""

    language = StringProperty("vi")
    """The language shown now; back to the configured one after each visit."""

    commune_name = StringProperty("")
    """Shown in the header band."""

    counter_name = StringProperty("")
    """Shown under the commune's name."""

    settings = ObjectProperty(None)
    """The validated :class:`kiosk.config.Settings` in force."""

    sync_text = StringProperty("")
    """The sync state in words, for the technician."""

    min_to_judge = NumericProperty(MIN_RATINGS_TO_JUDGE)
    """Fewer ratings than this are "too few to judge by"."""

    def _get_counter_mode(self) -> bool:
        return self.settings is not None and self.settings.mode == AttributionMode.COUNTER

    counter_mode = AliasProperty(_get_counter_mode, None, bind=("settings",))
    """Officers sign in for shifts at this counter (``attribution.mode: counter``)."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: DeviceClock | None = None, **kwargs):
        # Start-up makes long-lived objects and little garbage: no collector
        # pass walks them (some 40 young passes, 5 ms of a cold start) until
        # on_start has frozen them out of its view.
        gc.disable()
        try:
            super().__init__(**kwargs)
            self.store = store or Store(settings.database)
        except BaseException:
            gc.enable()  # no app to start
            raise
        roster = cached_roster(self.store.path)
        settings = with_roster(settings, roster)
        self.settings = settings
        self.desk = RatingDesk(settings, self.store, clock)
        self.voice = Voice(settings.voice)
        self.pins = PinGuard(
            attempts=settings.pin_attempts,
            lockout_s=settings.pin_lockout_s,
            load=self.store.pin_state,
            save=self.store.save_pin_state,
            clock=lambda: self.desk.clock.now().timestamp(),
            # The roster's PIN verifiers are keyed to this tablet's secret.
            device_key=lambda: pin_key(self.store.device_secret_path),
        )
        self.navigator = ScreenNavigator()
        self.visits = VisitFlow(self.desk, self.navigator, self, on_idle=self._before_idle)
        self.survey_desk = SurveyDesk(self.desk)
        # A survey a stop cut short is recorded before anything shows: no answer is lost.
        self.survey_desk.recover()
        self.surveys = SurveyFlow(self.survey_desk, self.navigator, invite=lambda: self.settings.survey_invite,
                                  go_rest=self.visits.go_idle)
        self.visits.surveys = self.surveys
        self.technician = TechnicianPanel(
            self.desk, self.navigator, self, self.apply_settings,
            roster_locked=lambda: self.sync.roster_from_server, stop=self._stop_by_technician,
        )
        self.staff = StaffFlow(self.desk, self.pins, self.navigator, self, self.visits, self.technician)
        self.sync = SyncControl(
            self.store, lambda: self.settings, self, self.visits, self.apply_settings,
            show_status=lambda text: setattr(self, "sync_text", text), roster=roster,
            keep_campaigns=self.survey_desk.keep_campaigns,
            keep_server_offset=self.survey_desk.keep_server_offset,
        )
        self.commune_name = settings.commune_name
        self.counter_name = settings.counter_name
        self.language = settings.language
        i18n.set_language(settings.language)
        self.title = self.tr("app.title")
        self._timers: list = []
        self._hand_over_keys: tuple | None = None
        self.exited_by_technician = False

    # -- Kivy lifecycle -------------------------------------------------------

    def get_application_config(self, defaultpath: str = "%(appdir)s/%(appname)s.ini") -> str:
        # Kivy's own ini goes beside the database, never into the package.
        return str(self.settings.database.parent / "kiosk.ini")

    def build(self) -> ScreenManager:
        Window.bind(size=self._on_window_size)
        self._on_window_size(Window, Window.size)
        # No screen yet: on_start shows the idle screen, built then; the
        # others one per frame once it shows (see kiosk.screens.KioskScreens).
        manager = KioskScreens(prepare=self._prepare_screen)
        self.navigator.attach(manager)
        return manager

    def on_start(self) -> None:
        Window.bind(on_request_close=self._refuse_close)
        Window.bind(on_key_down=self._on_key_down)
        self.visits.go_idle()
        keep_out_of_collections()  # what start-up made; the rest once built (kiosk.screens)
        gc.enable()
        # The officers' grid rests only a choose-mode counter (40 ms to build,
        # too long for a frame at rest): elsewhere it waits until asked for.
        self.root.build_rest_soon(skip=() if self.settings.mode == AttributionMode.CHOOSE else ("choose",))
        self.sync.start()
        self.sync.refresh_roster()
        self._timers = [
            Clock.schedule_interval(lambda _dt: self.visits.recheck_idle(), IDLE_RECHECK_S),
            Clock.schedule_interval(lambda _dt: self.sync.refresh_roster(), ROSTER_REFRESH_S),
        ]

    def on_stop(self) -> None:
        self.root.stop_building()
        for timer in self._timers:
            timer.cancel()
        self.sync.close()
        Window.unbind(size=self._on_window_size)
        Window.unbind(on_request_close=self._refuse_close)
        Window.unbind(on_key_down=self._on_key_down)

    def _refuse_close(self, *_args, **_kwargs) -> bool:
        # A citizen must not close the kiosk: only the technician's "exit" may.
        return self.settings.fullscreen and not self.exited_by_technician

    def _on_window_size(self, _window, size) -> None:
        width, height = size
        self.u = min(width, height) / 100.0
        self.portrait = height > width
        self._measure_display()

    def _measure_display(self) -> None:
        from kivy.metrics import Metrics

        dpi = self.settings.display_dpi or Metrics.dpi
        self.mm = dpi / 25.4
        self.tap = TAP_MM * self.mm
        width, height = Window.size
        self.compact = not self.portrait and height < COMPACT_TAPS * self.tap

    def _stop_by_technician(self) -> None:
        # main.py exits with EXIT_BY_TECHNICIAN, which the service manager
        # does not restart.
        self.exited_by_technician = True
        self.stop()

    # -- the officer's hand-over (kiosk.handover) ----------------------------------

    def _on_key_down(self, _window, key: int, _scancode: int, codepoint: str | None, _modifiers) -> bool:
        """A key press from a scanner, keypad or foot switch may trigger the
        hand-over prompt; every press still goes on to the screen's widgets."""
        settings = self.settings.handover
        if self._hand_over_keys is None or self._hand_over_keys[0] is not settings:
            self._hand_over_keys = (settings, HandOverKeys(scanner=settings.scanner, key=settings.key,
                                                           scan_gap_ms=settings.scan_gap_ms))
        name = _KEY_NAMES.get(key, "")
        found = self._hand_over_keys[1].press(name, codepoint, time.monotonic())
        if found is not None:
            self.visits.hand_over(found.dossier_code)
        return False

    # -- words ------------------------------------------------------------------

    def tr(self, key: str, _language: str | None = None, **values) -> str:
        """Translate ``key``. kv passes ``app.language`` as the second argument so
        that every label updates when the language changes."""
        return i18n.catalogue(_language or self.language).get(key, **values)

    def toggle_language(self) -> None:
        """Switch between Vietnamese and English for this visit."""
        self.set_language("en" if self.language == "vi" else "vi")

    def set_language(self, language: str) -> None:
        """Show ``language`` now, the words built in Python (faces, chips) too."""
        i18n.set_language(language)
        self.language = language
        if self.navigator.ready:
            # Only the screens built so far: one built later is worded then.
            if rate := self.navigator.built("rate"):
                rate.relabel(self._level_label)
            if reasons := self.navigator.built("reasons"):
                for chip in reasons.chips():
                    chip.text = reason_label(self.settings, language, chip.reason_id)
            if closed := self.navigator.built("closed"):
                closed.show_week()

    def _level_label(self, key: str) -> str:
        return self.tr(f"level.{key}")

    @staticmethod
    def format_phone(digits: str) -> str:
        """Group a phone number for reading back: 0912 345 678."""
        groups = [digits[:4], digits[4:7], digits[7:]]
        return " ".join(g for g in groups if g)

    def _before_idle(self, keep_language: bool) -> None:
        # Between two citizens: a roster that waited for the visit's end is
        # applied, and the configured language comes back.
        self.sync.apply_pending_roster()
        if self.language != self.settings.language and not keep_language:
            self.set_language(self.settings.language)

    # -- settings in force ----------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings at once, without a restart (the server's roster, if
        any, laid over them)."""
        settings = with_roster(settings, self.sync.roster)
        server_changed = settings.server_url != self.settings.server_url
        if settings.officers != self.settings.officers:
            # A portrait may have been replaced under the same file name.
            from kivy.cache import Cache

            Cache.remove("kv.image")
            Cache.remove("kv.texture")
        self.settings = settings
        self.desk.settings = settings
        self.voice.settings = settings.voice
        self._measure_display()
        self.pins.attempts, self.pins.lockout_s = settings.pin_attempts, settings.pin_lockout_s
        self.commune_name, self.counter_name = settings.commune_name, settings.counter_name
        self.set_language(settings.language)
        if self.navigator.ready:
            self._show_roster_and_scale()
        if server_changed:
            self.sync.restart()

    def _show_roster_and_scale(self) -> None:
        # On the screens built so far; one built later gets them when built.
        for name in ("rate", "choose"):
            if screen := self.navigator.built(name):
                self._prepare_screen(screen)

    def _prepare_screen(self, screen) -> None:
        # The faces and the officer grid are built in Python, not bound in kv.
        if screen.name == "rate":
            screen.show_scale(self.desk.scale.best_first, self._level_label)
        elif screen.name == "choose":
            screen.show_officers(self.settings.active_officers)

    # -- dialogs and files for the technician's panel ---------------------------

    def open_photo_chooser(self, officer: Officer) -> None:
        """Pick a picture file for an officer's portrait."""
        from kiosk.widgets.dialogs import open_path_dialog

        open_path_dialog(self.tr("tech.choose_photo"), str(Path.home()),
                         lambda path: self.technician.set_photo(officer, Path(path)), folders_only=False,
                         filters=["*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG"])

    def open_folder_chooser(self, start: str) -> None:
        """Pick the folder exports go to."""
        from kiosk.widgets.dialogs import open_path_dialog

        open_path_dialog(self.tr("tech.choose_folder"), start, self.navigator.screen("tech").choose_folder,
                         folders_only=True)

    def open_add_officer(self) -> None:
        """The form for a new officer's name and title."""
        from kiosk.widgets.dialogs import AddOfficerDialog

        AddOfficerDialog(saved=self.technician.add_officer).open()

    def log_dir(self) -> Path | None:
        """Where Kivy writes its log files, if it does."""
        import kivy
        from kivy.config import Config

        folder = Path(kivy.kivy_home_dir) / Config.get("kivy", "log_dir")
        return folder if folder.is_dir() else None
