"""The background uploader: sends the tablet's pending records to the
commune server in batches, on its own thread with its own database
connection, and reports how it is doing through ``on_status``.

The caller's thread never waits on it: :meth:`Uploader.start`,
:meth:`Uploader.sync_now` and :meth:`Uploader.stop` return at once (``stop``
waits at most its timeout). ``on_status`` is called on the uploader's thread;
a GUI wraps it to hop onto its own thread.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.desk import DeviceClock
from kiosk.link import transport
from kiosk.link.backoff import Backoff
from kiosk.link.credentials import CredentialsError, DeviceCredentials, load_credentials
from kiosk.link.sealing import register_seal_key
from kiosk.link.transport import ServerLink, TransportError
from kiosk.store import Store
from kiosk.store.outbox import Batch, Outbox
from sync import wire
from sync.protocol import API_PREFIX, MAX_BATCH_RECORDS, PROTOCOL_VERSION
from sync.record import KIND_DETAILS

__all__ = ["SyncStatus", "Uploader", "build_batch_body"]

log = logging.getLogger("hailong.sync")

# States reported in SyncStatus.state.
IDLE = "idle"                 # nothing left to send
SENDING = "sending"
BACKING_OFF = "backing_off"   # a failure; the next try is scheduled
UNPAIRED = "unpaired"         # no device secret yet
UNAUTHORIZED = "unauthorized" # the server refuses the secret
REVOKED = "revoked"           # the device was revoked on the server
STOPPED = "stopped"

_LAST_SUCCESS = "last_success"
_LAST_ERROR = "last_error"


@dataclass(frozen=True)
class SyncStatus:
    """The uploader's state, as shown in the technician's view."""

    state: str
    pending: int
    last_success: str | None = None
    last_error: str | None = None
    next_attempt_in_s: float | None = None
    sent_this_session: int = 0
    conflicts_this_session: int = 0


def build_batch_body(batch: Batch, device_id: str, *, sent_at: str, sent_monotonic_ns: int, boot_id: str,
                     app_version: str, pending: int, callback_keys: dict[str, bytes] | None = None) -> bytes:
    """The JSON body of a batch: the envelope with the device's time now, and
    the records; beside them, outside the chain, the sealed keys of the
    call-back numbers they carry (``callback_keys``: sealed key by record UUID)."""
    request = wire.BatchRequest(
        protocol=PROTOCOL_VERSION,
        device_id=device_id,
        idempotency_key=batch.key,
        sent_at=sent_at,
        sent_monotonic_ns=sent_monotonic_ns,
        boot_id=boot_id,
        app_version=app_version,
        pending=pending,
        records=[r.to_dict() for r in batch.records],
        callback_keys=[
            wire.CallbackKey(record_uuid=uuid, sealed_key=base64.b64encode(sealed).decode("ascii"))
            for uuid, sealed in sorted(callback_keys.items())
        ] if callback_keys else None,
    )
    envelope = wire.to_wire(request)
    if envelope["callback_keys"] is None:
        # Left out when empty: a server older than the field refuses unknown ones.
        del envelope["callback_keys"]
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Uploader:
    """Sends pending records from the tablet database at ``db_path``."""

    def __init__(
        self,
        db_path: str | Path,
        server_url: str,
        *,
        credentials_path: str | Path | None = None,
        batch_size: int = 500,
        on_status: Callable[[SyncStatus], None] | None = None,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        idle_interval_s: float = 30.0,
        blocked_interval_s: float = 600.0,
        clock: Any = None,
        app_version: str | None = None,
        store_factory: Callable[[Path], Any] = Store,
    ):
        if not 1 <= batch_size <= MAX_BATCH_RECORDS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_RECORDS}")
        self.db_path = Path(db_path)
        self.server_url = server_url
        self.credentials_path = Path(credentials_path) if credentials_path else None
        self.batch_size = batch_size
        self.on_status = on_status
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.idle_interval_s = idle_interval_s
        self.blocked_interval_s = blocked_interval_s
        self.clock = clock or DeviceClock()
        if app_version is None:
            from kiosk import __version__ as app_version
        self.app_version = app_version
        self.store_factory = store_factory
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._status = SyncStatus(STOPPED, 0)

    # -- control from the caller's thread (never blocks) ---------------------------------

    def start(self) -> None:
        """Start the background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hailong-uploader", daemon=True)
        self._thread.start()

    def sync_now(self) -> None:
        """Cut the current wait short ("sync now" in the technician's view)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop; wait at most ``timeout``. True when it has stopped."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> SyncStatus:
        """The last reported status (a snapshot; safe to read from any thread)."""
        return self._status

    # -- one pass, on whatever thread calls it -------------------------------------------

    def run_once(self, max_attempts: int = 5) -> SyncStatus:
        """Send everything pending, retrying failures up to ``max_attempts``
        times in a row, on the calling thread (for the command line). Returns
        the final status; ``pending`` is what is left."""
        store = self.store_factory(self.db_path)
        try:
            while True:
                wait = self._pass(store)
                state = self._status.state
                if state in (IDLE, UNPAIRED, UNAUTHORIZED, REVOKED) or self._failures >= max_attempts:
                    return self._status
                if wait > 0:
                    self._stop.wait(wait)
                if self._stop.is_set():
                    return self._status
        finally:
            store.close()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = self.store_factory(self.db_path)  # this thread's own connection
        except Exception as exc:  # noqa: BLE001 - reported, not raised into nowhere
            log.exception("uploader cannot open the store")
            self._report(SyncStatus(STOPPED, 0, last_error=f"cannot open the database: {exc}"))
            return
        try:
            while not self._stop.is_set():
                try:
                    wait = self._pass(store)
                except Exception as exc:  # noqa: BLE001 - the thread must survive any surprise
                    log.exception("uploader pass failed")
                    self._failures += 1
                    wait = self.backoff.delay(self._failures)
                    self._note_error(store, f"unexpected: {exc}")
                    self._report(replace(self._status, state=BACKING_OFF, next_attempt_in_s=wait))
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            self._report(replace(self._status, state=STOPPED, next_attempt_in_s=None))
            store.close()

    def _pass(self, store: Any) -> float:
        """Send batches until nothing is pending or something fails; returns
        how long to wait before the next pass."""
        outbox = Outbox(store)
        try:
            credentials = self._credentials(store)
        except CredentialsError as exc:
            self._note_error(store, str(exc))
            self._emit(store, outbox, UNPAIRED)
            return self.blocked_interval_s
        if credentials is None:
            self._emit(store, outbox, UNPAIRED)
            return self.idle_interval_s
        link = ServerLink(self.server_url or credentials.server_url, credentials, timeout=self.timeout)
        try:
            try:
                # Before any batch: records are sealed from here on, and the
                # server must hold the first key before it sees them.
                register_seal_key(store, link, credentials)
            except TransportError as exc:
                return self._after_failure(store, outbox, exc)
            while not self._stop.is_set():
                batch = outbox.next_batch(self.batch_size)
                if batch is None:
                    self._failures = 0
                    self._emit(store, outbox, IDLE)
                    return self.idle_interval_s
                self._emit(store, outbox, SENDING)
                try:
                    answer = self._send(link, credentials, outbox, batch)
                except TransportError as exc:
                    return self._after_failure(store, outbox, exc)
                summary = outbox.acknowledge(batch, answer, self._now())
                # The server holds the numbers' keys of what it acknowledged:
                # the tablet's copies go, so erasing on the server erases.
                store.callback_keys.forget(set(summary.uuids))
                self._failures = 0
                store.set_outbox_state(_LAST_SUCCESS, self._now_text())
                self._status = replace(
                    self._status,
                    sent_this_session=self._status.sent_this_session + summary.acknowledged,
                    conflicts_this_session=self._status.conflicts_this_session + summary.conflict,
                )
                if summary.acknowledged == 0:
                    # An answer that acknowledged nothing: do not spin on it.
                    return self._after_failure(store, outbox, TransportError(
                        transport.RETRY, "the server acknowledged none of the batch"))
            return 0.0
        finally:
            link.close()

    def _send(self, link: ServerLink, credentials: DeviceCredentials, outbox: Outbox, batch: Batch) -> dict[str, Any]:
        # The envelope is rebuilt for every attempt: the device time it carries
        # must be the time of this attempt, or the server's offset would be off
        # by the backoff. The records and the key stay the same.
        body = build_batch_body(
            batch, credentials.device_id,
            sent_at=self.clock.now().isoformat(timespec="milliseconds"),
            sent_monotonic_ns=self.clock.monotonic_ns(),
            boot_id=self.clock.boot(),
            app_version=self.app_version,
            # What will still wait once this batch is in: 0 after the last one.
            pending=max(0, outbox.pending_count() - len(batch.records)),
            callback_keys=outbox.store.callback_keys.sealed_for(
                [r.uuid for r in batch.records if r.kind == KIND_DETAILS]),
        )
        return link.post_signed(f"{API_PREFIX}/batches", body)

    def _after_failure(self, store: Any, outbox: Outbox, exc: TransportError) -> float:
        self._note_error(store, exc.detail)
        if exc.kind == transport.REVOKED:
            self._emit(store, outbox, REVOKED)
            return self.blocked_interval_s
        if exc.kind == transport.UNAUTHORIZED:
            self._emit(store, outbox, UNAUTHORIZED)
            return self.blocked_interval_s
        if exc.kind == transport.TOO_LARGE and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            outbox.forget_inflight()
            return 0.0
        if exc.kind == transport.STALE_BATCH:
            outbox.forget_inflight()
            return 0.0
        self._failures += 1
        wait = self.backoff.delay(self._failures, exc.retry_after_s)
        if exc.kind == transport.REFUSED:
            wait = max(wait, min(self.blocked_interval_s, self.backoff.cap_s))
        self._emit(store, outbox, BACKING_OFF, next_attempt_in_s=wait)
        return wait

    # -- helpers ---------------------------------------------------------------------------

    def _credentials(self, store: Any) -> DeviceCredentials | None:
        path = self.credentials_path or Path(store.device_secret_path)
        return load_credentials(path)

    def _now(self) -> datetime:
        return self.clock.now()

    def _now_text(self) -> str:
        return datetime.now(UTC).isoformat(timespec="seconds")

    def _note_error(self, store: Any, message: str) -> None:
        text = f"{self._now_text()} {message}"
        self._status = replace(self._status, last_error=text)
        store.set_outbox_state(_LAST_ERROR, text)

    def _emit(self, store: Any, outbox: Outbox, state: str, next_attempt_in_s: float | None = None) -> None:
        self._report(replace(
            self._status,
            state=state,
            pending=outbox.pending_count(),
            last_success=store.outbox_state(_LAST_SUCCESS),
            last_error=store.outbox_state(_LAST_ERROR),
            next_attempt_in_s=next_attempt_in_s,
        ))

    def _report(self, status: SyncStatus) -> None:
        self._status = status
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the uploads
                log.exception("on_status listener failed")
