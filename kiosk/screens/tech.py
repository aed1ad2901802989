"""The technician's panel: settings, officers, pairing, sync, data export,
health, and the only way out of the kiosk.

Slow work (pairing, export, the chain check) runs on worker threads with their
own database connections; results come back to the widgets through the clock.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.config import ConfigParser
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.settings import SettingsWithSidebar

from kiosk import settings_panel
from kiosk.config import ConfigError
from kiosk.screens.base import KioskScreen
from kiosk.widgets.card import OfficerRow
from kiosk.widgets.qr import QrCode  # noqa: F401  (tech.kv shows one)
from kiosk.widgets.settings_menu import KioskMenuSidebar  # noqa: F401  (settings.kv names it)

SECTIONS = ("settings", "officers", "pairing", "sync", "data", "health", "exit")


def folder_words(folder: str, tr) -> str:
    """Where exports go, as a technician knows it: the USB drive's name, or
    the folder's name on the tablet; never the raw path."""
    path = Path(folder)
    parts = path.parts
    for media in (("/", "media"), ("/", "run", "media")):
        # /media/<user>/<drive>/... or /run/media/<user>/<drive>/...
        if parts[: len(media)] == media and len(parts) > len(media) + 1:
            return tr("tech.export_usb", name=parts[len(media) + 1])
    return tr("tech.export_home", name=path.name or str(path))


def usb_folder() -> Path:
    """The first mounted removable drive, else the home folder."""
    for pattern in ("/media/*/*", "/run/media/*/*"):
        for candidate in sorted(Path("/").glob(pattern.lstrip("/"))):
            if candidate.is_dir():
                return candidate
    return Path.home()


class TechScreen(KioskScreen):
    """Sections on the left, the chosen one on the right."""

    section = StringProperty("settings")
    """The section shown."""

    message = StringProperty("")
    """The outcome of the last change, in words."""

    pairing_text = StringProperty("")
    """Where pairing stands."""

    pairing_url = StringProperty("")
    """The approval address, shown as a QR code while pairing."""

    export_folder = StringProperty("")
    """Where exports go."""

    export_text = StringProperty("")
    """Where the export stands."""

    export_progress = NumericProperty(0.0)
    """0 to 1 while exporting."""

    exporting = BooleanProperty(False)
    """An export is running."""

    health_text = StringProperty("")
    """Disk, database, chain, version, records."""

    log_text = StringProperty("")
    """The newest log lines."""

    pairing = BooleanProperty(False)
    """A pairing is under way: the button waits for its outcome."""

    paired = BooleanProperty(False)
    """The tablet holds credentials from the commune server."""

    ratings_text = StringProperty("")
    """How many ratings the tablet holds, for the data section."""

    roster_locked = BooleanProperty(False)
    """The roster comes from the server: officers are read-only here."""

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self.message = ""
        if not self.export_folder:
            self.export_folder = str(usb_folder())
        self.open_section(self.section)

    def open_section(self, name: str) -> None:
        """Show one section, filling it with fresh figures."""
        self.section = name
        self.message = ""
        self.ids.sections.current = name
        getattr(self, f"_fill_{name}", lambda: None)()

    # -- settings, through Kivy's own settings panels --------------------------

    def _fill_settings(self) -> None:
        app = App.get_running_app()
        config = ConfigParser()
        for panel, items in settings_panel.values(app.settings).items():
            config.setdefaults(panel, items)
        widget = SettingsWithSidebar()
        for _panel, title, data in settings_panel.panels(app.tr):
            widget.add_json_panel(title, config, data=data)
        if app.sync.roster_from_server:
            # The server's roster decides these: editing them here would do nothing.
            from kivy.uix.settings import SettingItem

            for panel in widget.interface.content.panels.values():
                for item in panel.walk():
                    if isinstance(item, SettingItem) and settings_panel.decided_by_roster(
                        settings_panel.item_for(item.section, item.key)
                    ):
                        item.disabled = True
        widget.bind(on_config_change=self._setting_changed)
        # The panel is left with "back to the kiosk", not with its own close button.
        close = widget.interface.menu.close_button
        close.opacity, close.disabled = 0, True
        holder = self.ids.settings_holder
        holder.clear_widgets()
        holder.add_widget(widget)

    def _setting_changed(self, _widget, _config, panel: str, key: str, value) -> None:
        app = App.get_running_app()
        path, new_value = settings_panel.to_change(panel, key, value)
        try:
            app.technician.change_settings({path: new_value})
        except (ConfigError, OSError) as exc:
            self.message = app.tr("tech.refused", problem=app.technician.describe_error(exc))
            # Show the value that is really in force again.
            Clock.schedule_once(lambda _dt: self._fill_settings())
            return
        self.message = app.tr("tech.saved")

    # -- officers -----------------------------------------------------------------

    def _fill_officers(self) -> None:
        app = App.get_running_app()
        self.roster_locked = app.sync.roster_from_server
        rows = self.ids.officer_rows
        rows.clear_widgets()
        for officer in app.settings.officers:
            rows.add_widget(OfficerRow(officer=officer, locked=self.roster_locked))

    # -- pairing ------------------------------------------------------------------

    def _fill_pairing(self) -> None:
        app = App.get_running_app()
        credentials = app.sync.credentials()
        self.paired = credentials is not None
        self.pairing_url = ""
        if credentials is not None:
            self.pairing_text = app.tr("tech.paired", device=credentials.device_id[:8])
        elif not app.settings.server_url:
            self.pairing_text = app.tr("tech.pair_no_server")
        else:
            self.pairing_text = app.tr("tech.not_paired")
        # Until the tablet is paired its records are not sealed: say so (kiosk.store.sealing).
        sealing = app.store.seal_keys.state()
        if not sealing.sealing:
            self.pairing_text += "\n" + app.tr("tech.unsealed_warning")
        elif not sealing.registered:
            self.pairing_text += "\n" + app.tr("tech.seal_key_owed")

    def start_pairing(self) -> None:
        """Ask the server for a code, show it, wait for the technician's approval."""
        app = App.get_running_app()
        if self.pairing:
            return
        if not app.settings.server_url:
            self.pairing_text = app.tr("tech.pair_no_server")
            return
        self.pairing = True
        self.pairing_text = app.tr("tech.pair_waiting")
        args = (app.settings.server_url, app.store.device_id, app.settings.counter_name, app.store.device_secret_path)
        threading.Thread(target=self._pair, args=args, name="hailong-pairing", daemon=True).start()

    def _pair(self, server_url: str, device_id: str, label: str, secret_path: Path) -> None:
        from kiosk import __version__
        from kiosk.link.credentials import save_credentials
        from kiosk.link.pairing import PairingClient, PairingFailed
        from kiosk.link.sealing import seal_after_pairing
        from kiosk.link.transport import TransportError

        client = PairingClient(server_url)
        try:
            authorization = client.start(device_id, label=label, app_version=__version__)
            self._pairing_code(authorization.user_code, authorization.verification_uri_complete)
            credentials = client.wait(authorization)
            save_credentials(secret_path, credentials)
            seal_after_pairing(App.get_running_app().settings.database, credentials, server_url)
        except PairingFailed as exc:
            self._pairing_outcome(False, exc.code)
        except TransportError as exc:
            self._pairing_outcome(False, exc.detail)
        except OSError as exc:  # the secret could not be saved
            self._pairing_outcome(False, str(exc))
        else:
            self._pairing_outcome(True, "")

    @mainthread
    def _pairing_code(self, code: str, url: str) -> None:
        app = App.get_running_app()
        self.pairing_text = app.tr("tech.pair_code", code=code) + "\n" + app.tr("tech.pair_hint")
        self.pairing_url = url

    @mainthread
    def _pairing_outcome(self, paired: bool, reason: str) -> None:
        app = App.get_running_app()
        self.pairing = False
        self.pairing_url = ""
        if paired:
            app.store.audit("paired", actor="technician", detail={"server": app.settings.server_url})
            app.sync.restart()  # an uploader may still hold the old (revoked) secret
            app.sync.refresh_roster()
            self.pairing_text = app.tr("tech.pair_done")
        else:
            self.pairing_text = app.tr("tech.pair_failed", reason=reason)

    # -- data -----------------------------------------------------------------------

    def _fill_data(self) -> None:
        app = App.get_running_app()
        self.ratings_text = app.tr("tech.ratings_on_tablet", count=app.store.count("rating"))
        self.export_text = ""

    def _fill_sync(self) -> None:
        self.paired = App.get_running_app().sync.credentials() is not None

    def choose_folder(self, folder: str) -> None:
        self.export_folder = folder

    def start_export(self) -> None:
        """Export every rating to CSV and XLSX in the chosen folder, with progress."""
        if self.exporting:
            return
        app = App.get_running_app()
        self.exporting = True
        self.export_progress = 0.0
        args = (app.store.path, Path(self.export_folder))
        threading.Thread(target=self._export, args=args, name="hailong-export", daemon=True).start()

    def _export(self, db_path: Path, folder: Path) -> None:
        from kiosk.export import export_ratings

        try:
            result = export_ratings(db_path, folder, progress=self._export_step)
        except Exception as exc:  # ExportError, or anything else: the button must come back
            self._export_done(None, exc)
        else:
            self._export_done(result, None)

    def _export_step(self, done: int, total: int) -> None:
        # Called on the export thread: coalesced onto the UI by the clock.
        Clock.schedule_once(lambda _dt: self._show_step(done, total))

    def _show_step(self, done: int, total: int) -> None:
        app = App.get_running_app()
        self.export_progress = done / total if total else 1.0
        self.export_text = app.tr("tech.export_progress", done=done, total=total)

    @mainthread
    def _export_done(self, result, error) -> None:
        app = App.get_running_app()
        self.exporting = False
        if result is None:
            self.export_text = app.tr("tech.export_failed", problem=app.technician.describe_error(error))
            return
        self.export_progress = 1.0
        files = ", ".join(p.name for p in result.paths)
        self.export_text = app.tr("tech.export_done", rows=result.rows, files=files)
        app.store.audit("export", actor="technician", detail={"rows": result.rows, "files": files})

    # -- health ---------------------------------------------------------------------

    def _fill_health(self) -> None:
        app = App.get_running_app()
        self.health_text = "…"
        args = (app.store.path, app.settings, app.log_dir())
        threading.Thread(target=self._health, args=args, name="hailong-health", daemon=True).start()

    def _health(self, db_path: Path, settings, log_dir) -> None:
        from kiosk.health import device_health, human_bytes, recent_log_lines
        from kiosk.store import Store

        try:
            store = Store(db_path)
            try:
                health = device_health(store, settings, log_dir)
                ratings = store.count("rating")
            finally:
                store.close()
        except Exception as exc:  # the panel must not stay on "…"
            self._health_failed(str(exc))
            return
        lines = recent_log_lines(log_dir) if log_dir else []
        self._show_health(health, [human_bytes(health.free_disk_bytes), human_bytes(health.database_bytes)], lines,
                          ratings)

    @mainthread
    def _health_failed(self, problem: str) -> None:
        self.health_text = App.get_running_app().tr("tech.refused", problem=problem)

    @mainthread
    def _show_health(self, health, sizes, lines, ratings: int = 0) -> None:
        app = App.get_running_app()
        chain = (
            app.tr("tech.chain_ok")
            if not health.chain_findings
            else app.tr("tech.chain_bad", count=len(health.chain_findings))
        )
        self.health_text = "\n".join(
            [
                app.tr("tech.free_disk", size=sizes[0]),
                app.tr("tech.db_size", size=sizes[1]),
                chain,
                app.tr("tech.records", count=health.records),
                app.tr("tech.ratings_count", count=ratings),
                app.tr("tech.version", version=health.app_version),
            ]
            + ([] if app.store.seal_keys.state().sealing else [app.tr("tech.unsealed_warning")])
        )
        self.log_text = "\n".join(lines[-40:]) or app.tr("tech.no_log")

    def on_timeout(self) -> None:
        App.get_running_app().visits.go_idle()
