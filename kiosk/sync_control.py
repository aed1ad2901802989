"""The tablet's link with the commune server, seen from the app: the
background uploader started and stopped, the server's roster fetched and
applied, and the sync state in words for the technician.

Network work runs on other threads; what they find comes back to the UI
thread only through ``hand_over`` (Kivy's clock in the app), and is applied
there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from kivy.logger import Logger

from kiosk.config import ConfigError, Settings
from kiosk.navigator import Words
from kiosk.roster import try_settings_with_roster
from kiosk.store import Store
from kiosk.visit import VisitFlow

__all__ = ["ROSTER_REFRESH_S", "SyncControl", "cached_roster", "on_ui_thread", "with_roster"]

# How often the tablet asks the server for a newer roster (a 304 costs little).
ROSTER_REFRESH_S = 300.0


def on_ui_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on Kivy's thread at its next frame (from any thread)."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: work())


def cached_roster(db_path: Path) -> dict | None:
    """The server's roster as last fetched beside the database, if any."""
    from kiosk.link.roster import RosterSync, roster_directory

    return RosterSync(roster_directory(db_path), link=None).cached()


def with_roster(settings: Settings, roster: dict | None) -> Settings:
    """``settings`` with the server's roster laid over them; the tablet's own
    when the roster does not fit them (and the log says why)."""
    merged, problem = try_settings_with_roster(settings, roster)
    if problem is not None:
        Logger.warning("Kiosk: the server's roster is not applied: %s", problem.line())
    return merged


class SyncControl:
    """Starts and stops the uploader, keeps the server's roster, says how sync stands.

    ``settings()`` gives the settings in force; ``apply_settings`` puts the
    tablet's own settings in force again (the app lays :attr:`roster` over
    them); ``show_status`` receives the sync state in words.
    """

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        words: Words,
        visits: VisitFlow,
        apply_settings: Callable[[Settings], None],
        show_status: Callable[[str], None],
        *,
        roster: dict | None = None,
        hand_over: Callable[[Callable[[], None]], None] = on_ui_thread,
        keep_campaigns: Callable[[list], None] | None = None,
        keep_server_offset: Callable[[float], bool] | None = None,
    ):
        self.store = store
        self.settings = settings
        self.words = words
        self.visits = visits
        self.apply_settings = apply_settings
        self.show_status = show_status
        self.hand_over = hand_over
        self.roster = roster
        """The server's roster in force, or None (the tablet's own officers)."""
        self.pending_roster: dict | None = None
        """A roster that arrived during a visit, applied when it ends."""
        self._uploader = None
        self._roster_link = None
        self._roster_fetching = False
        self._closed = False
        self.keep_campaigns = keep_campaigns
        """Keeps the survey campaigns the server sent (fetched with the roster)."""
        self.keep_server_offset = keep_server_offset
        """Keeps the server's clock minus the tablet's, learnt with the roster;
        says whether that changes the campaign asked today."""
        self._campaigns_etag: str | None = None

    @property
    def roster_from_server(self) -> bool:
        """The roster was pushed by the commune server: officers are read-only here."""
        return self.roster is not None

    def credentials(self):
        """This tablet's pairing with the server, or None."""
        from kiosk.link.credentials import CredentialsError, load_credentials

        try:
            return load_credentials(self.store.device_secret_path)
        except CredentialsError:
            return None

    # -- the uploader -----------------------------------------------------------------

    def start(self) -> None:
        """Start the background uploader when the tablet is paired."""
        server_url = self.settings().server_url
        if self._uploader is not None or not server_url or self.credentials() is None:
            self.show_status(self.status_words(None))
            return
        from kiosk.link.uploader import Uploader

        uploader = Uploader(
            self.store.path,
            server_url,
            credentials_path=self.store.device_secret_path,
            # Called on the uploader's thread: hop onto the UI thread, saying
            # which uploader it was (an old one may still be finishing).
            on_status=lambda status: self.hand_over(lambda: self._status_arrived(uploader, status)),
        )
        self._uploader = uploader
        uploader.start()

    def stop(self) -> None:
        """Tell the uploader to stop; never wait for it (it may be stuck in a
        request): its thread ends by itself, and its late reports are ignored."""
        if self._uploader is not None:
            self._uploader.stop(timeout=0)
            self._uploader = None

    def restart(self) -> None:
        """Start again with the server and secret in force now."""
        self.stop()
        self.start()

    def sync_now(self) -> None:
        """The technician's "sync now"."""
        if self._uploader is None:
            self.start()
        else:
            self._uploader.sync_now()
        self.refresh_roster()

    def close(self) -> None:
        """The app stops: no more rosters are applied, the uploader is told to stop."""
        self._closed = True
        if self._roster_link is not None and not self._roster_fetching:
            self._roster_link[1].close()
        self.stop()

    def _status_arrived(self, uploader, status) -> None:
        if uploader is not self._uploader:  # a late report from an uploader already stopped
            return
        self.show_status(self.status_words(status))

    def status_words(self, status) -> str:
        """The sync state for the technician: running or not, records waiting,
        the last success and the last error."""
        tr = self.words.tr
        if status is None:
            paired = self.credentials() is not None
            state = tr("tech.sync_state_stopped" if paired else "tech.sync_state_unpaired")
            return state + "\n" + tr("tech.sync_pending", count=self.store.pending_count())
        lines = [
            tr(f"tech.sync_state_{status.state}"),
            tr("tech.sync_pending", count=status.pending),
            tr("tech.sync_last_success", when=status.last_success or tr("tech.sync_never")),
        ]
        if status.last_error:
            lines.append(tr("tech.sync_last_error", error=status.last_error))
        return "\n".join(lines)

    # -- the server's roster ------------------------------------------------------------

    def refresh_roster(self) -> None:
        """Ask the server for a newer roster on a worker thread; apply it on the
        UI thread. One fetch at a time, through one link that keeps the server's
        clock offset it has learned."""
        server_url = self.settings().server_url
        credentials = self.credentials()
        if credentials is None or not server_url or self._roster_fetching:
            return
        from kiosk.link.transport import ServerLink

        key = (server_url, credentials)
        if self._roster_link is None or self._roster_link[0] != key:
            # Timed by the tablet's own clock, the one its records and its
            # campaign days are read from: the offset it learns corrects that clock.
            clock = self.visits.desk.clock
            self._roster_link = (key, ServerLink(server_url, credentials,
                                                 now=lambda: clock.now().astimezone(UTC)))
        self._roster_fetching = True
        args = (self.store.path, self._roster_link[1], self._campaigns_etag)
        threading.Thread(target=self._fetch_roster, args=args, name="hailong-roster", daemon=True).start()

    def _fetch_roster(self, db_path: Path, link: Any, campaigns_etag: str | None = None) -> None:
        # On the worker thread: only the fetches; the results go to the UI thread.
        from kiosk.link.roster import RosterError, RosterSync, roster_directory
        from kiosk.link.surveys import SurveyFetch, SurveyFetchError
        from kiosk.link.transport import TransportError

        roster = campaigns = None
        try:
            try:
                roster = RosterSync(roster_directory(db_path), link).fetch()
            except (TransportError, RosterError) as exc:
                Logger.info("Kiosk: roster not fetched (%s); the last copy stays", exc)
            try:
                # The survey campaigns alongside (an older server has none: kept as they were).
                campaigns = SurveyFetch(link).fetch(campaigns_etag) if self.keep_campaigns is not None else None
            except (TransportError, SurveyFetchError) as exc:
                Logger.info("Kiosk: survey campaigns not fetched (%s); the kept ones stay", exc)
        finally:
            offset = link.clock_offset_s
            self.hand_over(lambda: self._roster_fetched(roster, campaigns, offset))

    def _roster_fetched(self, roster: dict | None, campaigns: tuple | None = None,
                        server_offset_s: float | None = None) -> None:
        self._roster_fetching = False
        if roster is not None:
            self.roster_arrived(roster)
        if self._closed:
            return
        if campaigns is not None:
            self.campaigns_arrived(*campaigns)
        if server_offset_s is not None and self.keep_server_offset is not None \
                and self.keep_server_offset(server_offset_s) and self.visits.at_rest:
            # Another campaign runs on the server's date than on the tablet's: the rest screen shows it.
            self.visits.go_idle(keep_language=True)

    def campaigns_arrived(self, campaigns: list, etag: str | None = None) -> None:
        """The survey campaigns from the server: kept, and the rest screen
        shown again when the tablet rests (a survey tablet's may change)."""
        self._campaigns_etag = etag
        self.keep_campaigns(campaigns)
        if self.visits.at_rest:
            self.visits.go_idle(keep_language=True)

    def roster_arrived(self, roster: dict) -> None:
        """A newer roster from the server: applied now, or when the visit ends."""
        if self._closed:
            return
        if self.visits.in_progress:
            # Never change the officers under a citizen's fingers: apply it
            # when the visit is over.
            self.pending_roster = roster
            return
        self.apply_roster(roster)
        if self.visits.at_rest:
            self.visits.go_idle()

    def apply_pending_roster(self) -> None:
        """Apply the roster that waited for a visit's end, if one did."""
        if self.pending_roster is not None:
            roster, self.pending_roster = self.pending_roster, None
            self.apply_roster(roster)

    def apply_roster(self, roster: dict) -> None:
        """Put ``roster`` in force over the tablet's own config.yaml."""
        self.roster = roster
        try:
            own = self._file_settings()
        except ConfigError as exc:
            Logger.warning("Kiosk: config.yaml no longer loads (%s); the roster waits", exc.line())
            return
        self.store.audit("roster_applied", actor="server", detail={"officers": len(roster.get("officers", []))})
        if roster.get("callback_key"):
            # Tablets paired before the server had a key learn it here.
            self.store.callback_keys.set_server_key(roster["callback_key"])
        self.apply_settings(own)

    def _file_settings(self) -> Settings:
        """The tablet's own settings, as config.yaml has them (without the roster)."""
        from kiosk.config import load_settings

        settings = self.settings()
        return load_settings(settings.source) if settings.source else settings
