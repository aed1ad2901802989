"""Following up low ratings and call-back requests: the commune's cases.

A **case opens** for

* a rating at one of the lowest levels of its scale (the server setting
  ``case_levels``: how many levels from the bottom, 1 by default — only the
  worst; a level that counts as satisfied never opens one);
* any call-back request (a details record carrying the citizen's number,
  given with consent);
* a citizen's comment with a call-back or on a lowest-level rating, handed
  over by :mod:`server.comments` (:func:`open_for_comment`).

Cases open **inside the batch's own transaction**
(:func:`open_cases_for_batch`, called by :class:`server.batches.BatchIngest`)
rather than by a background sweep: a case exists the moment its rating is
stored, so the badge and the board show it at once, and a batch and its cases
are applied together or not at all. It costs one dictionary lookup per record
when nothing in the batch is low, and the settings are read only when a record
might open a case. A case is keyed by its rating's UUID (and a comment's id),
both unique in the ``cases`` table, and a replayed batch stores no record, so
replays and repeated uploads never open a second case.

A case has an owner (a leader's or admin's account), a status (``new →
assigned → contacted → resolved``), an outcome, notes and a due date
(``case_due_working_days`` working days, Monday to Friday, in the commune's
time zone, counted from the day it opened); open past its due date, it is
overdue. Every change is an event (who, when) and is audited — never with the
citizen's phone number, which is not copied here at all: it is read from the
tablet's details record when a page may show it (:meth:`CaseBook.callback_phone`),
only to the case's owner and leaders, and only while the case is open; each
time a page shows it, that is audited too (``callback.view``: who, which
case, never the number — :meth:`CaseBook.show_phone`). The citizen's comment
(its text, a suggestion's signature) follows the same people: leaders, and
the case's owner while it is open (:meth:`CaseBook.citizen_comment`). The
officer a case is about sees neither, ever.

Listeners (:func:`on_opened`) hear of new cases once their transaction has
committed: the e-mail alerts (:mod:`server.alerts`) are one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from server import callback_numbers, comments
from server.accounts import Account, AccountBook, Role
from server.clock import Clock, utc_now, utc_text
from server.ingest import Outcome as StoredOutcome
from server.settings import ServerSettings, SettingError, check_setting
from server.store import cases as stored
from server.store import read_transaction, write_transaction
from server.store import settings as stored_settings
from sync.record import KIND_DETAILS, KIND_RATING
from sync.scale import SCALES

__all__ = [
    "CaseStatus", "CaseOutcome", "Cause", "Case", "CaseEvent", "CaseError", "CaseBook", "CaseView",
    "opens_case", "due_day", "due_deadline", "open_cases_for_batch", "open_for_comment",
    "on_opened", "announce", "open_case_for_comment", "UNSATISFIED",
]

log = logging.getLogger("hailong.server.cases")

CALLBACK_ERASED = "callback_erased"
"""The event of a number erased at the citizen's request (:meth:`CaseBook.erase_callback`)."""


class CaseStatus(StrEnum):
    """Where a case is in its follow-up."""

    NEW = "new"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    RESOLVED = "resolved"


class CaseOutcome(StrEnum):
    """How a case ended."""

    EXPLAINED = "explained"
    APOLOGY_SENT = "apology_sent"
    OFFICER_REMINDED = "officer_reminded"
    UNFOUNDED = "unfounded"
    OTHER = "other"


class Cause(StrEnum):
    """Why a case opened (the first reason; a call-back asked later only sets ``callback``)."""

    LOW_RATING = "low_rating"
    CALLBACK = "callback"
    COMMENT = "comment"


# The steps a leader may take from each status. Resolving needs an outcome.
NEXT_STATUSES: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.NEW: (CaseStatus.ASSIGNED,),
    CaseStatus.ASSIGNED: (CaseStatus.CONTACTED, CaseStatus.RESOLVED),
    CaseStatus.CONTACTED: (CaseStatus.RESOLVED,),
    CaseStatus.RESOLVED: (),
}

MAX_NOTE_CHARS = 2000
OWNER_ROLES = (Role.LEADER, Role.ADMIN)


class CaseError(ValueError):
    """A change a case does not allow; ``code`` names it for the pages
    (``cases.error.<code>``)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Case:
    """A follow-up case (never the citizen's phone number)."""

    id: int
    rating_uuid: str | None
    comment_id: int | None
    cause: Cause
    callback: bool
    officer_id: str | None
    scale: int | None
    level: str | None
    status: CaseStatus
    owner_id: int | None
    outcome: CaseOutcome | None
    opened_at: str
    due_at: str
    due_on: str
    resolved_at: str | None
    updated_at: str

    @property
    def is_open(self) -> bool:
        """Not yet resolved."""
        return self.status is not CaseStatus.RESOLVED

    def overdue(self, now: datetime) -> bool:
        """Still open past its due date."""
        return self.is_open and utc_text(now) >= self.due_at

    @property
    def next_statuses(self) -> tuple[CaseStatus, ...]:
        """The statuses a leader may move it to."""
        return NEXT_STATUSES[self.status]


@dataclass(frozen=True)
class CaseEvent:
    """One change to a case: who (None: the server), when, what."""

    at: str
    actor: str | None
    action: str
    value: str | None
    note: str | None


def _case(row: dict[str, Any]) -> Case:
    values = dict(row)
    values["cause"] = Cause(values["cause"])
    values["status"] = CaseStatus(values["status"])
    values["outcome"] = CaseOutcome(values["outcome"]) if values["outcome"] else None
    values["callback"] = bool(values["callback"])
    return Case(**values)


# -- the rules of opening ---------------------------------------------------------

# Every (scale, level) that is not satisfied, with its place from the bottom
# (1 = the worst): a record is looked up here before anything else is read.
UNSATISFIED: dict[tuple[int, str], int] = {
    (size, level.key): level.score for size, scale in SCALES.items() for level in scale.levels if not level.satisfied
}


def _follow_up_settings(conn: Connection) -> ServerSettings:
    """The settings that open cases (levels, due days, days off, time zone), read in the
    caller's transaction without the rest (the commune's name reads the roster)."""
    stored_values = stored_settings.stored_settings(conn)
    values: dict[str, Any] = {}
    for key in ("timezone", "case_levels", "case_due_working_days", "holidays"):
        if key in stored_values:
            try:
                values[key] = check_setting(key, stored_values[key])
            except SettingError:
                pass  # a value edited by hand into something unusable: the default stands
    if "holidays" in values:
        values["holidays"] = tuple(values["holidays"])
    return ServerSettings(**values)


def opens_case(scale: int | None, level: str | None, case_levels: int) -> bool:
    """Whether a rating at ``level`` on a ``scale``-level scale opens a case:
    it is among the ``case_levels`` lowest and not a satisfied level."""
    place = UNSATISFIED.get((scale, level)) if scale is not None and level is not None else None
    return place is not None and place <= case_levels


def due_day(opened: date, working_days: int, holidays: Collection[str] = ()) -> date:
    """The day a case opened on ``opened`` is due: that many working days
    (Monday to Friday, not one of the ``holidays``, ISO dates) later. A case
    opened on Friday or at the weekend with 2 days is due on Tuesday."""
    day, left, off = opened, working_days, frozenset(holidays)
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day.isoformat() not in off:
            left -= 1
    return day


def due_deadline(opened_at: datetime, working_days: int, zone: ZoneInfo,
                 holidays: Collection[str] = ()) -> tuple[str, str]:
    """When a case opened at ``opened_at`` becomes overdue: the end of its due
    day in the commune's time zone, as (UTC instant text, local ISO date)."""
    day = due_day(opened_at.astimezone(zone).date(), working_days, holidays)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return utc_text(end), day.isoformat()


def _case_row(*, stamp: str, settings: ServerSettings, cause: Cause, callback: bool, rating_uuid: str | None,
              comment_id: int | None, rating: Any | None) -> dict[str, Any]:
    """The ``cases`` row of a new case."""
    due_at, due_on = due_deadline(datetime.fromisoformat(stamp), settings.case_due_working_days, settings.zone,
                                  settings.holidays)
    return dict(rating_uuid=rating_uuid, comment_id=comment_id, cause=cause.value, callback=callback,
                officer_id=_get(rating, "officer_id"), scale=_get(rating, "scale"), level=_get(rating, "level"),
                status=CaseStatus.NEW.value, owner_id=None, outcome=None, opened_at=stamp, due_at=due_at,
                due_on=due_on, resolved_at=None, updated_at=stamp)


def _opened(conn: Connection, cases: Sequence[tuple[int, dict[str, Any]]], stamp: str) -> None:
    """The first event and the audit entry of new cases, as (id, row) pairs."""
    stored.add_events(conn, [dict(case_id=case_id, at=stamp, actor=None, action="opened", value=row["cause"],
                                  note=None) for case_id, row in cases])
    stored.add_audit_entries(conn, [dict(at=stamp, actor=None, action="case.open", target=f"case {case_id}",
                           detail=f"cause={row['cause']}" + (" callback" if row["callback"] else ""), address=None)
                      for case_id, row in cases])


def _new_case(conn: Connection, **values: Any) -> int:
    row = _case_row(**values)
    case_id = stored.add_case(conn, **row)
    _opened(conn, [(case_id, row)], row["opened_at"])
    return case_id


def _get(rating: Any | None, name: str) -> Any:
    if rating is None:
        return None
    return rating[name] if isinstance(rating, dict) else getattr(rating, name)


def open_cases_for_batch(conn: Connection, outcomes: Sequence[StoredOutcome], stamp: str) -> list[int]:
    """Open the cases a batch's newly stored records call for, inside the
    batch's transaction; the new cases' ids.

    ``outcomes`` are the records the batch stores (``IngestPlan.to_store``),
    ``stamp`` its arrival time. A rating that already has a case is not
    opened again; a call-back asked for it later marks that case instead."""
    low: dict[str, Any] = {}
    callbacks: dict[str, Any] = {}
    for outcome in outcomes:
        record = outcome.record
        if record.kind == KIND_RATING:
            if (record.scale, record.level) in UNSATISFIED:
                low[record.uuid] = record
        elif (record.kind == KIND_DETAILS and (record.callback_phone or record.callback_box) and record.callback_consent
              and record.rating_uuid):
            callbacks[record.rating_uuid] = record
    if not low and not callbacks:
        return []
    settings = _follow_up_settings(conn)
    low = {uuid: r for uuid, r in low.items() if opens_case(r.scale, r.level, settings.case_levels)}
    if not low and not callbacks:
        return []
    in_batch = {o.record.uuid: o.record for o in outcomes if o.record.kind == KIND_RATING} if callbacks else {}
    ratings: dict[str, Any] = {**in_batch, **low}
    missing = set(callbacks) - set(ratings)
    if missing:
        ratings.update(stored.ratings_by_uuid(conn, missing))
    existing = stored.cases_by_rating(conn, set(low) | set(callbacks))
    rows = []
    for uuid in sorted(set(low) | set(callbacks), key=lambda u: (u not in low, u)):
        callback = uuid in callbacks
        case = existing.get(uuid)
        if case is None:
            cause = Cause.LOW_RATING if uuid in low else Cause.CALLBACK
            rows.append(_case_row(stamp=stamp, settings=settings, cause=cause, callback=callback, rating_uuid=uuid,
                                  comment_id=None, rating=ratings.get(uuid)))
        elif callback and not case["callback"]:
            _mark_callback(conn, case, stamp)
    if not rows:
        return []
    # A batch may open many cases (a day of low ratings sent at once): one
    # insert for them all, then their ids by rating, as the batch's records.
    stored.add_cases(conn, rows)
    ids = stored.case_ids_by_rating(conn, [row["rating_uuid"] for row in rows])
    opened = [(ids[row["rating_uuid"]], row) for row in rows]
    _opened(conn, opened, stamp)
    return [case_id for case_id, _row in opened]


def _mark_callback(conn: Connection, case: dict[str, Any], stamp: str) -> None:
    """A call-back asked for a rating whose case is already open."""
    stored.update_case(conn, case["id"], callback=True, updated_at=stamp)
    stored.add_event(conn, case_id=case["id"], at=stamp, actor=None, action="callback", value=None, note=None)


def open_for_comment(engine: Engine, comment_id: int, *, rating_uuid: str | None, callback: bool,
                     clock: Clock = utc_now) -> int | None:
    """Follow a citizen's comment up: a case opens when the comment asks for a
    call-back or is about a rating at the lowest level(s); a comment about a
    rating that already has a case joins it. The new case's id, or None.
    Listeners hear of a new case once it is committed."""
    stamp = utc_text(clock())

    def work(conn: Connection) -> int | None:
        if stored.case_by_comment(conn, comment_id) is not None:
            return None
        settings = _follow_up_settings(conn)
        rating = stored.ratings_by_uuid(conn, [rating_uuid]).get(rating_uuid) if rating_uuid else None
        low = rating is not None and opens_case(rating["scale"], rating["level"], settings.case_levels)
        if rating_uuid is not None:
            case = stored.cases_by_rating(conn, [rating_uuid]).get(rating_uuid)
            if case is not None:
                if case["comment_id"] is None:
                    _attach_comment(conn, case, stamp, comment_id, callback)
                return None
        if not (callback or low):
            return None
        return _new_case(conn, stamp=stamp, settings=settings, cause=Cause.COMMENT, callback=callback,
                         rating_uuid=rating_uuid if rating is not None else None, comment_id=comment_id,
                         rating=rating)

    case_id = write_transaction(engine, work)
    if case_id is not None:
        announce(engine, [case_id])
    return case_id


def _attach_comment(conn: Connection, case: dict[str, Any], stamp: str, comment_id: int, callback: bool) -> None:
    """A comment about a rating whose case is already open joins it (a call-back it asks for marks it)."""
    stored.update_case(conn, case["id"], comment_id=comment_id, callback=bool(case["callback"] or callback),
                       updated_at=stamp)
    stored.add_event(conn, case_id=case["id"], at=stamp, actor=None, action="comment", value=None, note=None)


def open_case_for_comment(engine: Engine, comment_id: int) -> None:
    """The comment module's listener (:data:`server.comments.COMMENT_LISTENERS`):
    follow a newly stored comment up (:func:`open_for_comment`)."""
    found = comments.comment(engine, comment_id)
    if found is not None:
        # The case opens when the comment was written, on the clock that stamped it.
        written = datetime.fromisoformat(found.created_at)
        open_for_comment(engine, comment_id, rating_uuid=found.rating_uuid, callback=found.callback_requested,
                         clock=lambda: written)


comments.COMMENT_LISTENERS.append(open_case_for_comment)


# -- hearing of new cases -----------------------------------------------------------

_LISTENERS: WeakKeyDictionary[Engine, list[Callable[[list[int]], None]]] = WeakKeyDictionary()
_LISTENERS_LOCK = threading.Lock()


def on_opened(engine: Engine, listener: Callable[[list[int]], None]) -> None:
    """Call ``listener`` with the ids of the cases opened on ``engine``'s
    database, once they are committed (it must return quickly: it runs on
    the thread that stored them)."""
    with _LISTENERS_LOCK:
        _LISTENERS.setdefault(engine, []).append(listener)


def announce(engine: Engine, case_ids: Iterable[int]) -> None:
    """Tell the listeners of ``engine`` about newly opened cases (after their
    commit). A failing listener is logged and never fails the caller."""
    ids = list(case_ids)
    if not ids:
        return
    with _LISTENERS_LOCK:
        listeners = list(_LISTENERS.get(engine, ()))
    for listener in listeners:
        try:
            listener(ids)
        except Exception:  # noqa: BLE001 - an alert must never fail an upload
            log.exception("a listener of new cases failed")


# -- the follow-up ------------------------------------------------------------------


class CaseView(StrEnum):
    """The lists of the cases page."""

    OPEN = "open"
    OVERDUE = "overdue"
    RESOLVED = "resolved"
    ALL = "all"


class CaseBook:
    """The cases in the server database, and the changes leaders make to them.

    Every change is one transaction with its event, then audited through the
    :class:`AccountBook` (``case.assign``, ``case.status``, ``case.outcome``,
    ``case.note``: never a phone number, never a note's text)."""

    def __init__(self, engine: Engine, accounts: AccountBook, *, clock: Clock = utc_now):
        self.engine = engine
        self.accounts = accounts
        self.clock = clock

    # -- reading ------------------------------------------------------------------

    def cases(self, view: CaseView = CaseView.OPEN, *, officer_id: str | None = None, page: int = 1,
              per_page: int = 50) -> tuple[list[Case], int]:
        """One page of the cases of a list (``officer_id``: only those about
        that officer), and how many the list holds in all."""
        open_statuses = [s.value for s in CaseStatus if s is not CaseStatus.RESOLVED]
        statuses = {CaseView.OPEN: open_statuses, CaseView.OVERDUE: open_statuses,
                    CaseView.RESOLVED: [CaseStatus.RESOLVED.value], CaseView.ALL: None}[view]
        overdue_at = utc_text(self.clock()) if view is CaseView.OVERDUE else None
        with read_transaction(self.engine) as conn:
            rows, total = stored.list_cases(conn, statuses=statuses, overdue_at=overdue_at, officer_id=officer_id,
                                            limit=per_page, offset=(page - 1) * per_page)
        return [_case(row) for row in rows], total

    def new_cases(self, limit: int) -> list[Case]:
        """The newest cases nobody has taken yet, at most ``limit``."""
        with read_transaction(self.engine) as conn:
            rows, _ = stored.list_cases(conn, statuses=[CaseStatus.NEW.value], limit=limit)
        return [_case(row) for row in rows]

    def get(self, case_id: int) -> Case | None:
        """One case."""
        with read_transaction(self.engine) as conn:
            row = stored.case_by_id(conn, case_id)
        return _case(row) if row else None

    def events(self, case_id: int) -> list[CaseEvent]:
        """A case's history, oldest first."""
        with read_transaction(self.engine) as conn:
            rows = stored.events_of(conn, case_id)
        return [CaseEvent(at=r["at"], actor=r["actor"], action=r["action"], value=r["value"], note=r["note"])
                for r in rows]

    def count_new(self) -> int:
        """How many cases nobody has taken yet (the menu's badge)."""
        with read_transaction(self.engine) as conn:
            return stored.count_by_status(conn, CaseStatus.NEW.value)

    def owners(self) -> list[Account]:
        """The accounts a case may be given to: active leaders and admins."""
        return [a for a in self.accounts.accounts() if a.active and a.role in OWNER_ROLES]

    @staticmethod
    def _follows_up(case: Case, viewer: Account) -> bool:
        """Whether ``viewer`` acts on this case's personal data: a leader, or
        the account it is given to; never an officer nor an observer (the
        role is checked as well as the owner, and an account tied to the
        officer the case is about is refused whatever its role)."""
        if viewer.role not in OWNER_ROLES or (viewer.officer_id and viewer.officer_id == case.officer_id):
            return False
        return viewer.role is Role.LEADER or viewer.id == case.owner_id

    @classmethod
    def may_see_phone(cls, case: Case, viewer: Account) -> bool:
        """The citizen's number is for the case's owner and leaders, only while the case is open."""
        return case.is_open and case.callback and cls._follows_up(case, viewer)

    @classmethod
    def may_read_comment(cls, case: Case, viewer: Account) -> bool:
        """The citizen's comment is for leaders (who read every comment on the
        comments page too) and for the case's owner while the case is open."""
        return cls._follows_up(case, viewer) and (viewer.role is Role.LEADER or case.is_open)

    def citizen_comment(self, case: Case, viewer: Account) -> comments.Comment | None:
        """The comment this case is about (the one it opened with or was
        joined by, else the one given on its rating), when ``viewer`` may read
        it; an erased one comes back with ``erased_at`` and no text. Never its
        phone number (:meth:`show_phone`)."""
        if not self.may_read_comment(case, viewer):
            return None
        if case.comment_id is not None:
            return comments.comment(self.engine, case.comment_id)
        if case.rating_uuid is not None:
            return comments.comment_of_rating(self.engine, case.rating_uuid)
        return None

    def cases_for_comments(self, found: Sequence[comments.Comment]) -> dict[int, Case]:
        """The case each comment leads to, by comment id: the case it opened
        or joined, else the case of the rating it is about."""
        with read_transaction(self.engine) as conn:
            by_comment = stored.cases_by_comments(conn, [c.id for c in found])
            about = [c.rating_uuid for c in found if c.id not in by_comment and c.rating_uuid]
            by_rating = stored.cases_by_rating(conn, about) if about else {}
        linked: dict[int, Case] = {}
        for item in found:
            row = by_comment.get(item.id) or (by_rating.get(item.rating_uuid) if item.rating_uuid else None)
            if row is not None:
                linked[item.id] = _case(row)
        return linked

    def show_phone(self, case: Case, viewer: Account, address: str | None = None) -> str | None:
        """The number to put on a page for ``viewer`` (:meth:`callback_phone`),
        audited as ``callback.view`` (who, which case, never the number)
        before it is handed over: a number the audit could not record is not
        shown."""
        phone = self.callback_phone(case, viewer)
        if phone is not None:
            self.accounts.audit(viewer.username, "callback.view", f"case {case.id}", "", address)
        return phone

    def callback_phone(self, case: Case, viewer: Account) -> str | None:
        """The number the citizen left, when ``viewer`` may see it now (read
        from the tablet's details record or the comment, never from the case)."""
        if not self.may_see_phone(case, viewer):
            return None
        phone = None
        if case.rating_uuid is not None:
            # Opened with the server's key (server.callback_numbers); None once erased.
            phone = callback_numbers.number_for_rating(self.engine, case.rating_uuid)
        if phone is None and case.comment_id is not None:
            phone = comments.callback_phone(self.engine, case.comment_id)
        return phone

    # -- changing -----------------------------------------------------------------

    def assign(self, case_id: int, owner_id: int, actor: Account, address: str | None = None) -> Case:
        """Give an open case to a leader or admin; a new case becomes ``assigned``."""
        owner = self.accounts.get(owner_id)
        if owner is None or not owner.active or owner.role not in OWNER_ROLES:
            raise CaseError("bad_owner")

        def change(conn: Connection, case: Case, stamp: str) -> dict[str, Any]:
            values: dict[str, Any] = {"owner_id": owner.id}
            stored.add_event(conn, case_id=case.id, at=stamp, actor=actor.username, action="assigned",
                             value=owner.username, note=None)
            if case.status is CaseStatus.NEW:
                values["status"] = CaseStatus.ASSIGNED.value
                stored.add_event(conn, case_id=case.id, at=stamp, actor=actor.username, action="status",
                                 value=CaseStatus.ASSIGNED.value, note=None)
            return values

        return self._change(case_id, actor, address, "case.assign", f"owner={owner.username}", change)

    def move(self, case_id: int, status: CaseStatus | str, actor: Account, address: str | None = None) -> Case:
        """Move a case one step on (``assigned`` needs an owner, ``resolved`` an outcome)."""
        try:
            target = CaseStatus(status)
        except ValueError:
            raise CaseError("bad_status") from None

        def change(conn: Connection, case: Case, stamp: str) -> dict[str, Any]:
            if target not in case.next_statuses:
                raise CaseError("bad_step")
            if target is CaseStatus.ASSIGNED and case.owner_id is None:
                raise CaseError("no_owner")
            if target is CaseStatus.RESOLVED and case.outcome is None:
                raise CaseError("no_outcome")
            stored.add_event(conn, case_id=case.id, at=stamp, actor=actor.username, action="status",
                             value=target.value, note=None)
            values: dict[str, Any] = {"status": target.value}
            if target is CaseStatus.RESOLVED:
                values["resolved_at"] = stamp
            return values

        return self._change(case_id, actor, address, "case.status", f"status={target.value}", change)

    def set_outcome(self, case_id: int, outcome: CaseOutcome | str, actor: Account,
                    address: str | None = None) -> Case:
        """Record how an open case ends (before resolving it)."""
        try:
            chosen = CaseOutcome(outcome)
        except ValueError:
            raise CaseError("bad_outcome") from None

        def change(conn: Connection, case: Case, stamp: str) -> dict[str, Any]:
            stored.add_event(conn, case_id=case.id, at=stamp, actor=actor.username, action="outcome",
                             value=chosen.value, note=None)
            return {"outcome": chosen.value}

        return self._change(case_id, actor, address, "case.outcome", f"outcome={chosen.value}", change)

    def add_note(self, case_id: int, text: str, actor: Account, address: str | None = None) -> Case:
        """Add a note (for leaders and the owner; never shown to the officer)."""
        note = text.strip()
        if not note:
            raise CaseError("empty_note")
        if len(note) > MAX_NOTE_CHARS:
            raise CaseError("long_note")

        def change(conn: Connection, case: Case, stamp: str) -> dict[str, Any]:
            stored.add_event(conn, case_id=case.id, at=stamp, actor=actor.username, action="note", value=None,
                             note=note)
            return {}

        # The audit says a note was added, not what it says (it may name the citizen).
        return self._change(case_id, actor, address, "case.note", "", change, while_resolved=True)

    def number_kept(self, case: Case) -> bool:
        """Whether a number the citizen left on the tablet for this case can
        still be opened (not erased), whoever may see it: it decides whether
        a leader is offered to erase it."""
        return case.callback and case.rating_uuid is not None and \
            callback_numbers.number_for_rating(self.engine, case.rating_uuid) is not None

    def erase_callback(self, case_id: int, actor: Account, address: str | None = None) -> int:
        """Erase the number the citizen left on the tablet for this case's
        rating, at their request: its key is destroyed
        (:func:`server.callback_numbers.erase_for_rating`, audited as
        ``callback.erase``) and the case's history says so, never with the
        number. Leaders only, open or resolved. How many numbers were erased."""
        if actor.role is not Role.LEADER:
            raise CaseError("not_allowed")
        case = self.get(case_id)
        if case is None:
            raise CaseError("no_case")
        if case.rating_uuid is None or not case.callback:
            return 0
        erased = callback_numbers.erase_for_rating(self.engine, case.rating_uuid, actor.username,
                                                   address=address, clock=self.clock)
        stamp = utc_text(self.clock())
        write_transaction(self.engine, lambda conn: stored.add_event(
            conn, case_id=case_id, at=stamp, actor=actor.username, action=CALLBACK_ERASED, value=None, note=None))
        return erased

    def _change(self, case_id: int, actor: Account, address: str | None, action: str, detail: str,
                change: Callable[[Connection, Case, str], dict[str, Any]], *, while_resolved: bool = False) -> Case:
        if actor.role not in OWNER_ROLES or (actor.role is Role.ADMIN and not self._owns(case_id, actor)):
            raise CaseError("not_allowed")
        stamp = utc_text(self.clock())

        def work(conn: Connection) -> Case:
            row = stored.case_by_id(conn, case_id)
            if row is None:
                raise CaseError("no_case")
            case = _case(row)
            if not case.is_open and not while_resolved:
                raise CaseError("resolved")
            values = change(conn, case, stamp)
            values["updated_at"] = stamp
            stored.update_case(conn, case_id, **values)
            return _case({**row, **values})

        updated = write_transaction(self.engine, work)
        self.accounts.audit(actor.username, action, f"case {case_id}", detail, address)
        return updated

    def _owns(self, case_id: int, account: Account) -> bool:
        case = self.get(case_id)
        return case is not None and case.owner_id == account.id
