"""Ratings given at home: an officer settles a dossier at an elderly or
housebound citizen's home (lưu động), where there is no counter and no
tablet, and hands them a one-time link to rate on their own phone.

* An officer makes a **visit** for themselves (a leader or the admin for any
  officer): the officer, the dossier code (mã hồ sơ) and an expiry
  (``home_visit_hours``, a server setting). Its link ``/h/<token>`` carries a
  random token of which only a digest is kept (:func:`token_digest`).
* The citizen's phone shows the commune's faces (the roster's scale); the
  tap is kept at once as a ``rating`` record, and the link is spent in the
  same transaction (a second visit hears that the rating was received).
  After a low rating come the commune's reasons and the call-back offer,
  after a good one the reasons of praise when the commune asks for them
  (``rating.reasons_on_high``), exactly as on the tablet; they are kept as
  a ``details`` record. Only the browser that rated may add them, once (a
  key in its cookie, of which the visit keeps a digest).
* The records are a tablet's in every respect but one: the server writes
  them itself, built with :mod:`sync.record`, as a chain of their own under
  the reserved source :data:`server.store.home_visits.HOME_DEVICE_ID`,
  sealed forward with a key the server evolves and forgets as a tablet does,
  and stored through :meth:`server.batches.BatchIngest.apply_own` — the very
  rules of a tablet's batch (chain check, seals, ``repeat_dossier``, cases).
  Each carries the flag ``at_home``. So every figure, case, report, export
  and evidence archive counts them unchanged, and a low rating opens a case.
* A call-back number is encrypted as a tablet encrypts it
  (:func:`server.callback_numbers.seal_number`): the details record holds
  the ciphertext, the sealed key is kept in ``callback_keys`` beside it, so
  erasure at the citizen's request and after the retention period work
  unchanged. The number is never kept in clear, logged or shown to the
  officer.

Nothing here knows HTTP: the pages are :mod:`server.web.home_visits` (the
officer's) and :mod:`server.web.home_rating` (the citizen's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from server.accounts import Account, AccountBook, Role
from server.batches import Batch, BatchIngest
from server.callback_numbers import seal_number
from server.cases import announce
from server.clock import Clock, utc_now, utc_text
from server.comments import CommentError, normalise_phone
from server.registry import CHAIN_PROBLEMS
from server.roster import commune_settings, tree_of
from server.scores import AT_HOME
from server.seals import key_of_device, register_key
from server.settings import load_settings
from server.store import devices as stored_devices
from server.store import home_visits as stored
from server.store import read_transaction, write_transaction
from server.store import roster as stored_roster
from server.store.home_visits import HOME_DEVICE_ID
from sync import wire
from sync.protocol import RecordStatus
from sync.record import KIND_DETAILS, KIND_RATING, MAX_DOSSIER_CODE_CHARS, Record
from sync.record import seal as hash_record
from sync.roster import Commune
from sync.scale import SCALES, Level
from sync.seal import key_after, new_key, seal_record

__all__ = [
    "HOME_DEVICE_ID", "VisitState", "HomeVisit", "HomeVisitError", "Opening", "Rated", "HomeVisits",
    "token_digest", "check_dossier_code", "may_create_for",
]

TOKEN_BYTES = 24
"""Random bytes of a visit's token (192 bits: never guessed)."""
DETAILS_WINDOW = timedelta(hours=1)
"""How long after the rating its browser may still add the reasons."""
SOURCE_LABEL = "Đánh giá tại nhà"
"""The reserved source's label where devices are listed raw (the evidence archive)."""


def _server_version() -> str:
    try:
        return version("hailong")
    except PackageNotFoundError:
        return "0"


SERVER_VERSION = _server_version()
"""The ``app_version`` of the records the server writes."""
_DOSSIER = re.compile(rf"^[^\s\x00-\x1f\x7f]{{1,{MAX_DOSSIER_CODE_CHARS}}}$")


class VisitState(StrEnum):
    """Where a visit's link stands."""

    OPEN = "open"
    """Not used, not expired: the citizen may rate."""
    RATED = "rated"
    """Used: the rating was received."""
    EXPIRED = "expired"
    """Past its expiry without a rating."""
    UNKNOWN = "unknown"
    """No visit has this token."""


class HomeVisitError(ValueError):
    """Something a visit does not allow; ``code`` names it for the pages
    (``home_visit.error.<code>`` or a :class:`VisitState` value)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class HomeVisit:
    """A visit (never its token)."""

    id: int
    officer_id: str
    dossier_code: str
    created_by: str
    created_at: str
    expires_at: str
    used_at: str | None
    rating_uuid: str | None
    details_at: str | None

    def state(self, now: datetime) -> VisitState:
        """Rated, still open, or expired, at ``now``."""
        if self.used_at is not None:
            return VisitState.RATED
        return VisitState.OPEN if utc_text(now) < self.expires_at else VisitState.EXPIRED


@dataclass(frozen=True)
class Opening:
    """What a citizen's link finds: its state, the visit and, while it is
    open, the commune's settings and the officer's roster entry."""

    state: VisitState
    visit: HomeVisit | None = None
    commune: Commune | None = None
    officer: Mapping[str, Any] | None = None

    @property
    def levels(self) -> tuple[Level, ...]:
        """The faces to show, best first (the commune's scale)."""
        return SCALES[self.commune.scale if self.commune else 3].best_first


@dataclass(frozen=True)
class Rated:
    """A rating kept: its UUID and level, what comes next, and the key the
    rater's browser holds to add the reasons (None: nothing comes next)."""

    rating_uuid: str
    level: Level
    comment_token: str
    reasons: tuple[str, ...]
    """The reasons to offer next (the commune's, for this level)."""
    callback: bool
    """Whether the call-back is offered next (a low level)."""
    details_key: str | None


class _NotClaimed(Exception):
    """The visit was spent (or expired) between the check and the write."""


def token_digest(token: str) -> str:
    """What is kept of a visit's token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_dossier_code(text: str | None) -> str:
    """A dossier code as typed, trimmed and held to the record's rule (1 to
    64 printable characters, no spaces); raises ``bad_dossier``."""
    code = (text or "").strip()
    if not _DOSSIER.match(code):
        raise HomeVisitError("bad_dossier")
    return code


def may_create_for(account: Account, officer_id: str) -> bool:
    """Who may make a visit for an officer: the officer themselves, a leader
    or the admin for anyone; an observer never."""
    if account.role in (Role.LEADER, Role.ADMIN):
        return True
    return account.role is Role.OFFICER and bool(account.officer_id) and account.officer_id == officer_id


def _visit(row: Mapping[str, Any]) -> HomeVisit:
    return HomeVisit(**{name: row[name] for name in HomeVisit.__dataclass_fields__})


class HomeVisits:
    """Makes visits and writes the ratings given through them. ``clock``
    gives the UTC time (the expiry, the records' times)."""

    def __init__(self, engine: Engine, ingest: BatchIngest, *, clock: Clock = utc_now):
        self.engine = engine
        self.ingest = ingest
        self.clock = clock
        # Records written by this process share one boot: their monotonic
        # clock only moves forward, as a tablet's does within a boot.
        self.boot_id = str(uuid.uuid4())

    # -- the officer's side ---------------------------------------------------------

    def officers(self) -> dict[str, Mapping[str, Any]]:
        """The roster's active officers by id (name, title, photo)."""
        document = self._roster()
        return {o["id"]: o for o in (document or {}).get("officers", []) if o.get("active", True)}

    def create(self, account: Account, officer_id: str, dossier_code: str, *,
               address: str | None = None) -> tuple[HomeVisit, str]:
        """Make a visit for ``officer_id``; it and its token (shown once, in
        the link). Raises :class:`HomeVisitError`: ``forbidden`` (see
        :func:`may_create_for`), ``no_officer`` (not an active officer of the
        roster), ``bad_dossier``. Audited as ``home_visit.create``."""
        if not may_create_for(account, officer_id):
            raise HomeVisitError("forbidden")
        if officer_id not in self.officers():
            raise HomeVisitError("no_officer")
        code = check_dossier_code(dossier_code)
        now = self.clock()
        hours = load_settings(self.engine).home_visit_hours
        token = secrets.token_urlsafe(TOKEN_BYTES)
        values = dict(token_digest=token_digest(token), officer_id=officer_id, dossier_code=code,
                      created_by=account.username, created_at=utc_text(now),
                      expires_at=utc_text(now + timedelta(hours=hours)))
        visit_id = write_transaction(self.engine, lambda conn: stored.add_visit(conn, **values))
        AccountBook(self.engine, clock=self.clock).audit(
            account.username, "home_visit.create", f"home visit {visit_id}",
            f"officer {officer_id}, dossier {code}", address)
        return self.visit(visit_id), token

    def visit(self, visit_id: int) -> HomeVisit | None:
        """One visit by its id."""
        with read_transaction(self.engine) as conn:
            row = stored.visit_by_id(conn, visit_id)
        return _visit(row) if row else None

    def with_token(self, visit_id: int, token: str) -> HomeVisit | None:
        """The visit, if ``token`` is its own (to show its link again)."""
        with read_transaction(self.engine) as conn:
            row = stored.visit_by_id(conn, visit_id)
        if row is None or not hmac.compare_digest(row["token_digest"], token_digest(token or "")):
            return None
        return _visit(row)

    @staticmethod
    def may_see(account: Account, visit: HomeVisit) -> bool:
        """A visit's page: its officer, whoever made it, leaders and the admin."""
        if account.role in (Role.LEADER, Role.ADMIN):
            return True
        return account.username == visit.created_by or (
            account.role is Role.OFFICER and account.officer_id == visit.officer_id)

    def recent(self, account: Account, limit: int = 30) -> list[HomeVisit]:
        """The newest visits an account may see: an officer's own, every one for leaders and the admin."""
        officer_id = None if account.role in (Role.LEADER, Role.ADMIN) else (account.officer_id or "")
        with read_transaction(self.engine) as conn:
            rows = stored.recent_visits(conn, officer_id=officer_id, limit=limit)
        return [_visit(row) for row in rows]

    # -- the citizen's side -------------------------------------------------------

    def opening(self, token: str) -> Opening:
        """What the link with ``token`` finds."""
        with read_transaction(self.engine) as conn:
            row = stored.visit_by_digest(conn, token_digest(token or ""))
        if row is None:
            return Opening(VisitState.UNKNOWN)
        visit = _visit(row)
        state = visit.state(self.clock())
        if state is not VisitState.OPEN:
            return Opening(state, visit)
        commune = self.commune()
        return Opening(state, visit, commune, self.officers().get(visit.officer_id))

    def details_open(self, token: str, details_key: str | None) -> Opening | None:
        """The visit whose rater (holding ``details_key``) may still add the
        reasons, with the commune's settings; None otherwise."""
        if not details_key:
            return None
        with read_transaction(self.engine) as conn:
            row = stored.visit_by_digest(conn, token_digest(token or ""))
        if (row is None or row["details_digest"] is None or row["details_at"] is not None
                or not hmac.compare_digest(row["details_digest"], token_digest(details_key))
                or self.clock() >= datetime.fromisoformat(row["used_at"]) + DETAILS_WINDOW):
            return None
        return Opening(VisitState.RATED, _visit(row), self.commune(), self.officers().get(row["officer_id"]))

    def rate(self, token: str, level_key: str) -> Rated:
        """Keep the citizen's tap: a ``rating`` record of the visit's officer
        and dossier, at ``level_key`` of the commune's scale, and spend the
        link, in one transaction. Raises :class:`HomeVisitError`: a
        :class:`VisitState` value (``rated``, ``expired``, ``unknown``) or
        ``bad_level``."""
        opening = self.opening(token)
        if opening.state is not VisitState.OPEN:
            raise HomeVisitError(opening.state.value)
        commune = opening.commune
        scale = SCALES[commune.scale if commune else 3]
        level = next((lv for lv in scale.levels if lv.key == level_key), None)
        if level is None:
            raise HomeVisitError("bad_level")
        reasons = self.reasons_after(commune, level)
        callback = level.low
        details_key = secrets.token_urlsafe(TOKEN_BYTES) if (reasons or callback) else None
        rating_uuid = str(uuid.uuid4())
        comment_token = secrets.token_urlsafe(12)
        visit = opening.visit
        now = self.clock()
        zone = load_settings(self.engine).zone

        def build(device: Mapping[str, Any]) -> Batch:
            return self._batch(device, now, zone, lambda **common: Record(
                kind=KIND_RATING, uuid=rating_uuid, **common, officer_id=visit.officer_id, counter_id="",
                score=level.score, scale=scale.size, level=level.key, burst=False, comment_token=comment_token,
                dossier_code=visit.dossier_code))

        def claim(conn: Connection) -> bool:
            return stored.claim_visit(conn, visit.id, now=utc_text(now), rating_uuid=rating_uuid,
                                      details_digest=token_digest(details_key) if details_key else None)

        self._write(now, claim, build, refused=lambda: self.opening(token).state.value)
        return Rated(rating_uuid, level, comment_token, reasons, callback, details_key)

    def add_details(self, token: str, details_key: str | None, reasons: Iterable[str], *, phone: str | None = None,
                    consent: bool = False) -> bool:
        """Keep what the rater added after the tap (once): the reasons among
        those offered and, after a low rating, a call-back number given with
        consent, encrypted as a tablet does. Whether a call-back was asked.
        Raises :class:`HomeVisitError`: ``closed`` (not this browser, done
        already, or too late), ``bad_phone``, ``no_consent``."""
        opening = self.details_open(token, details_key)
        if opening is None:
            raise HomeVisitError("closed")
        visit = opening.visit
        scale = SCALES[opening.commune.scale if opening.commune else 3]
        rating = self.rated_level(visit.rating_uuid) or scale.levels[-1]
        offered = self.reasons_after(opening.commune, rating)
        chosen = tuple(dict.fromkeys(r for r in reasons if r in offered))
        number = None
        if rating.low and (phone or "").strip():
            try:
                number = normalise_phone(phone or "")
            except CommentError:
                raise HomeVisitError("bad_phone") from None
            if not consent:
                raise HomeVisitError("no_consent")
        if not chosen and number is None:
            # Nothing added: the link's chance to add is spent, no record is written (as on the tablet).
            write_transaction(self.engine, lambda conn: stored.claim_details(
                conn, visit.id, details_digest=token_digest(details_key or ""), now=utc_text(self.clock())))
            return False
        box, sealed_key = seal_number(self.engine, number) if number else (None, None)
        details_uuid = str(uuid.uuid4())
        now = self.clock()
        zone = load_settings(self.engine).zone

        def build(device: Mapping[str, Any]) -> Batch:
            batch = self._batch(device, now, zone, lambda **common: Record(
                kind=KIND_DETAILS, uuid=details_uuid, **common, rating_uuid=visit.rating_uuid, reasons=chosen,
                callback_box=box, callback_consent=box is not None))
            if sealed_key is None:
                return batch
            return replace(batch, callback_keys=(wire.CallbackKey(record_uuid=details_uuid, sealed_key=sealed_key),))

        def claim(conn: Connection) -> bool:
            return stored.claim_details(conn, visit.id, details_digest=token_digest(details_key or ""),
                                        now=utc_text(now))

        self._write(now, claim, build, refused=lambda: "closed")
        return number is not None

    # -- the reserved source ------------------------------------------------------

    def source_health(self) -> dict[str, Any] | None:
        """The reserved source's chain as the devices page shows it (None
        before its first rating): records kept, the last sequence number,
        whether its chain is intact, open findings, when it last wrote."""
        with read_transaction(self.engine) as conn:
            device = stored.home_device(conn)
            if device is None:
                return None
            chain = stored_devices.findings_counts(conn, CHAIN_PROBLEMS).get(HOME_DEVICE_ID, 0)
            findings = stored_devices.findings_counts(conn).get(HOME_DEVICE_ID, 0)
        return {"records_count": device["records_count"], "last_seq": device["head_seq"],
                "chain_status": "flagged" if chain else "intact", "findings_count": findings,
                "last_written_at": device["last_seen_at"], "sealed_from_seq": device["seal_first_seq"]}

    # -- inside -------------------------------------------------------------------

    def _write(self, now: datetime, claim, build, *, refused) -> None:
        """Claim the visit and store the batch ``build`` makes, in one
        transaction; announce the cases it opened once committed."""
        opened: list[int] = []
        def work(conn: Connection) -> None:
            opened.clear()  # the transaction may run more than once
            if not claim(conn):
                raise _NotClaimed()
            self._ensure_source(conn, now)
            answer = self.ingest.apply_own(conn, HOME_DEVICE_ID, build, now, opened, flags=(AT_HOME,))
            statuses = {result["status"] for result in json.loads(answer.text)["results"]}
            if statuses != {RecordStatus.STORED}:
                # The server's own chain refused its record: keep nothing, say so.
                raise RuntimeError(f"a home rating was not stored: {sorted(statuses)}")

        try:
            write_transaction(self.engine, work)
        except _NotClaimed:
            # Said once the transaction is over (it read nothing else while it held the lock).
            code = refused()
            raise HomeVisitError(VisitState.RATED.value if code == VisitState.OPEN.value else code) from None
        announce(self.engine, opened)

    @staticmethod
    def _ensure_source(conn: Connection, now: datetime) -> None:
        """Make the reserved source the first time it is written, with its
        first sealing key (records from 1 on are sealed)."""
        if stored.home_device(conn) is not None:
            return
        stored.add_home_device(conn, label=SOURCE_LABEL, app_version=SERVER_VERSION, stamp=utc_text(now))
        register_key(conn, HOME_DEVICE_ID, 1, new_key())

    def _batch(self, device: Mapping[str, Any], now: datetime, zone: ZoneInfo, make) -> Batch:
        """The one-record batch of the source's next record: ``make`` gets
        the fields every record has (its place after the locked head) and
        returns the record, which is then hashed and sealed with the key of
        its place. (Inside the write transaction: it reads nothing else,
        since on SQLite another connection could not while the lock is held.)"""
        monotonic = time.monotonic_ns()
        record = hash_record(make(
            device_id=HOME_DEVICE_ID, seq=device["head_seq"] + 1, prev_hash=device["head_hash"],
            device_time=now.astimezone(zone).isoformat(timespec="milliseconds"), monotonic_ns=monotonic,
            boot_id=self.boot_id, app_version=SERVER_VERSION, simulated=False))
        key = key_of_device(device)
        if key is not None and record.seq >= key.seq:
            record = replace(record, seal=seal_record(key_after(key.key, record.seq - key.seq), record))
        return Batch(device_id=HOME_DEVICE_ID, idempotency_key=f"home-{uuid.uuid4().hex}", sent_at=now,
                     sent_monotonic_ns=monotonic, boot_id=self.boot_id, app_version=SERVER_VERSION, pending=0,
                     records=[record.to_dict()])

    def _roster(self) -> dict[str, Any] | None:
        with read_transaction(self.engine) as conn:
            current = stored_roster.current_roster(conn)
        return json.loads(current[0]) if current else None

    def commune(self) -> Commune | None:
        """The commune's settings as the tablets read them (scale, reasons, leaders), or None before a roster."""
        document = self._roster()
        return commune_settings(tree_of(document)) if document else None

    @staticmethod
    def reasons_after(commune: Commune | None, level: Level) -> tuple[str, ...]:
        """The reasons offered after ``level``: the commune's low ones after a
        low level, its reasons of praise after a good one when it asks for them."""
        if commune is None:
            return ()
        if level.low:
            return tuple(r.id for r in commune.low_reasons)
        return tuple(r.id for r in commune.high_reasons) if commune.reasons_on_high else ()

    def rated_level(self, rating_uuid: str | None) -> Level | None:
        """The level of the source's rating ``rating_uuid``."""
        if rating_uuid is None:
            return None
        with read_transaction(self.engine) as conn:
            row = stored.rating_of(conn, rating_uuid)
        if row is None or row["scale"] not in SCALES:
            return None
        return next((lv for lv in SCALES[row["scale"]].levels if lv.key == row["level"]), None)
