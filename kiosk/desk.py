"""The rules of the counter, free of Kivy: who is being rated, whether the
counter is open, and how a tap becomes a durable record.

The citizen's screens, ``python -m kiosk.simulate`` and the tests all go
through :class:`RatingDesk`, so there is one code path from a tap to a
committed record.
"""

from __future__ import annotations

import secrets
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.config import AttributionMode, Officer, Settings
from kiosk.store import Store, device_time_text, local_now
from kiosk.store.callback_keys import CallbackKeys
from sync.record import KIND_CORRECTION, KIND_DETAILS, KIND_RATING, Record, written_version
from sync.scale import Scale, scale_for

__all__ = ["RatingDesk", "CounterClosed", "CorrectionRefused", "boot_id", "is_valid_phone", "REPICK_S"]

REPICK_S = 20.0
"""Seconds a citizen has, after "Chọn lại" (within the window), to tap a face again."""

CLOSED_NO_OFFICER = "no_officer"
CLOSED_OUTSIDE_HOURS = "outside_hours"


class CounterClosed(Exception):
    """No rating can be made now; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CorrectionRefused(Exception):
    """A correction that may not be recorded: not this desk's latest rating,
    corrected already, or too late."""


def boot_id() -> str:
    """An id of this boot of the device, so the server can tell which records
    share one monotonic clock. Linux and Android expose one; elsewhere a fresh
    id per process start is the honest fallback."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid_module.uuid4())


def is_valid_phone(number: str) -> bool:
    """A Vietnamese phone number: 10 or 11 digits starting with 0."""
    return number.isdigit() and number.startswith("0") and len(number) in (10, 11)


@dataclass
class DeviceClock:
    """Where the desk reads time from; tests replace the parts they steer."""

    now: Callable[[], datetime] = local_now
    monotonic_ns: Callable[[], int] = time.monotonic_ns
    boot: Callable[[], str] = boot_id


class RatingDesk:
    """One tablet's counter: attribution, opening hours, recording taps."""

    def __init__(self, settings: Settings, store: Store, clock: DeviceClock | None = None):
        self.settings = settings
        self.store = store
        self.clock = clock or DeviceClock()
        self._boot_id = self.clock.boot()
        self._last_rating = store.last_rating()

    @property
    def scale(self) -> Scale:
        return scale_for(self.settings.scale)

    # -- who is rated ---------------------------------------------------------

    def officer_on_duty(self) -> Officer | None:
        """The officer a rating goes to, in ``counter`` and ``officer`` modes."""
        if self.settings.mode == AttributionMode.OFFICER:
            officer = self.settings.officer(self.settings.mode_officer)
            return officer if officer.active else None
        if self.settings.mode == AttributionMode.COUNTER:
            shift = self.store.current_shift(self.settings.counter_id)
            if shift is None:
                return None
            try:
                officer = self.settings.officer(shift.officer_id)
            except KeyError:  # the roster changed under an open shift
                return None
            return officer if officer.active else None
        return None

    def closed_reason(self) -> str | None:
        """Why no rating can be made now, or ``None`` when the counter is open."""
        if not self.settings.working_hours.is_open(self.clock.now()):
            return CLOSED_OUTSIDE_HOURS
        if self.settings.mode != AttributionMode.CHOOSE and self.officer_on_duty() is None:
            return CLOSED_NO_OFFICER
        return None

    def may_rate(self, officer: Officer) -> bool:
        """Whether a rating may go to ``officer`` now: the one on duty in
        ``counter`` and ``officer`` modes, any active officer in ``choose`` mode."""
        if not officer.active:
            return False
        if self.settings.mode == AttributionMode.CHOOSE:
            return True
        on_duty = self.officer_on_duty()
        return on_duty is not None and on_duty.id == officer.id

    def sign_in(self, officer_id: str) -> None:
        """Open a shift for an officer at this counter."""
        self.settings.officer(officer_id)  # KeyError for an unknown officer
        self.store.start_shift(officer_id, self.settings.counter_id, self.clock.now())
        self.store.audit("shift_start", actor=officer_id, detail={"counter": self.settings.counter_id})

    def sign_out(self) -> None:
        """Close the open shift at this counter."""
        shift = self.store.current_shift(self.settings.counter_id)
        self.store.end_shift(self.settings.counter_id, self.clock.now())
        if shift is not None:
            self.store.audit("shift_end", actor=shift.officer_id, detail={"counter": self.settings.counter_id})

    # -- recording ------------------------------------------------------------

    def rate(self, officer_id: str, score: int, *, simulated: bool = False,
             dossier_code: str | None = None) -> Record:
        """Record a tap durably and return the committed record.

        Raises :class:`CounterClosed` when the counter is closed, and
        ``KeyError`` for an officer who may not be rated now (not on the
        roster, inactive, or not the one on duty). A tap soon after the
        previous one is recorded and flagged ``burst``, never dropped.
        ``dossier_code`` is the dossier whose hand-over prompted the rating.
        """
        # What closed_reason() and may_rate() check, with the shift looked up once.
        if not self.settings.working_hours.is_open(self.clock.now()):
            raise CounterClosed(CLOSED_OUTSIDE_HOURS)
        choose = self.settings.mode == AttributionMode.CHOOSE
        on_duty = None if choose else self.officer_on_duty()
        if not choose and on_duty is None:
            raise CounterClosed(CLOSED_NO_OFFICER)
        officer = self.settings.officer(officer_id)
        if not officer.active or (on_duty is not None and on_duty.id != officer.id):
            raise KeyError(officer_id)
        level = self.scale.level(score)
        now = self.clock.now()
        mono = self.clock.monotonic_ns()
        burst = self._is_burst(now, mono)
        record = self._append(
            KIND_RATING,
            now,
            mono,
            simulated,
            officer_id=officer.id,
            counter_id=self.settings.counter_id,
            score=level.score,
            scale=self.scale.size,
            level=level.key,
            burst=burst,
            comment_token=secrets.token_urlsafe(12),
            dossier_code=dossier_code,
        )
        self._last_rating = record
        return record

    def correct(self, rating: Record, score: int) -> Record:
        """Record the citizen's second choice for ``rating`` (a mis-tap), as an
        append-only ``correction``; the rating stays in the chain as it was.

        Only this desk's latest rating, once, and within the window plus
        :data:`REPICK_S` (measured on the monotonic clock) may be corrected;
        anything else raises :class:`CorrectionRefused`.
        """
        window = self.settings.correction_window_s
        last = self._last_rating
        if window <= 0 or last is None or last.uuid != rating.uuid:
            raise CorrectionRefused(rating.uuid)
        mono = self.clock.monotonic_ns()
        if (mono - rating.monotonic_ns) > (window + REPICK_S) * 1e9 or rating.boot_id != self._boot_id:
            raise CorrectionRefused(rating.uuid)
        if self.store.journal.correction_of(rating.uuid) is not None:
            raise CorrectionRefused(rating.uuid)
        level = scale_for(rating.scale).level(score)
        return self._append(
            KIND_CORRECTION,
            self.clock.now(),
            mono,
            rating.simulated,
            rating_uuid=rating.uuid,
            score=level.score,
            scale=rating.scale,
            level=level.key,
        )

    def add_details(
        self,
        rating: Record,
        reasons: Iterable[str] = (),
        callback_phone: str | None = None,
        *,
        consent: bool = False,
    ) -> Record | None:
        """Record what the citizen added to a rating. Nothing is written when
        nothing was added. A phone number without consent is not kept, nor
        one the tablet cannot seal to the server (it holds no key yet).

        The number is never written in clear: it is encrypted under a fresh
        key (:mod:`kiosk.callback_box`), the record carries the ciphertext,
        and the key, sealed to the server, is kept beside the record in the
        same transaction until the uploader has delivered it."""
        from kiosk.callback_box import read_public_key, seal_number  # NaCl: not on the start path

        reasons = tuple(reasons)
        phone = callback_phone if (consent and callback_phone and is_valid_phone(callback_phone)) else None
        sealed = None
        if phone is not None:
            server_key = read_public_key(self.store.callback_keys.server_key())
            sealed = seal_number(phone, server_key) if server_key is not None else None
        del phone  # only its sealed form goes on
        if not reasons and sealed is None:
            return None
        sealed_key = sealed.sealed_key if sealed is not None else None
        return self._append(
            KIND_DETAILS,
            self.clock.now(),
            self.clock.monotonic_ns(),
            rating.simulated,
            beside=(lambda conn, record: CallbackKeys.add(conn, record.uuid, sealed_key)) if sealed_key else None,
            rating_uuid=rating.uuid,
            reasons=reasons,
            callback_box=sealed.box if sealed is not None else None,
            callback_consent=sealed is not None,
        )

    def takes_callbacks(self) -> bool:
        """Whether a call-back may be offered: the tablet holds the server's
        key to seal the number to (received with pairing or the roster)."""
        from kiosk.callback_box import read_public_key

        return read_public_key(self.store.callback_keys.server_key()) is not None

    def append_other(self, kind: str, beside: Callable[[Any, Record], None] | None = None, **fields) -> Record:
        """Chain a record of a kind that rates nobody (a survey's answers),
        now, in the format version its kind needs (:func:`sync.record.written_version`)."""
        return self._append(kind, self.clock.now(), self.clock.monotonic_ns(), False, beside,
                            v=written_version(kind), **fields)

    def _append(self, kind: str, now: datetime, mono: int, simulated: bool,
                beside: Callable[[Any, Record], None] | None = None, **fields) -> Record:
        """Chain a new record of ``kind`` with this device's common fields
        (``beside``: what is written with it outside the chain)."""
        return self.store.append(
            lambda seq, prev_hash: Record(
                kind=kind,
                uuid=str(uuid_module.uuid4()),
                device_id=self.store.device_id,
                seq=seq,
                prev_hash=prev_hash,
                device_time=device_time_text(now),
                monotonic_ns=mono,
                boot_id=self._boot_id,
                app_version=__version__,
                simulated=simulated,
                **fields,
            ),
            beside,
        )

    def comment_url(self, rating: Record) -> str:
        """The address of the phone comment form for this rating: on the
        server's public address when its roster gives one (a LAN name is not
        reachable from a citizen's phone), else on ``server.url``; empty when
        the tablet knows no server."""
        base = (self.settings.public_url or self.settings.server_url).rstrip("/")
        return f"{base}/c/{rating.uuid}?t={rating.comment_token}" if base else ""

    def _is_burst(self, now: datetime, mono: int) -> bool:
        last = self._last_rating
        interval = self.settings.burst_interval_s
        if last is None or interval <= 0:
            return False
        if last.boot_id == self._boot_id:
            return (mono - last.monotonic_ns) < interval * 1e9
        # Another boot: only the wall clocks can be compared.
        previous = datetime.fromisoformat(last.device_time)
        return abs((now - previous).total_seconds()) < interval
