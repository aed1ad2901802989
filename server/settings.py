"""The commune-wide settings of the server: its time zone (every time shown
and every day counted is the commune's local one), how many ratings an
officer needs before being ranked, the commune's name, how long the
citizens' comment form stays open after a rating and comments are kept, which
ratings open a follow-up case and how long it has (:mod:`server.cases`), and
the mail server that alerts leaders of new cases (:mod:`server.alerts`).

They are kept in the ``settings`` table (:mod:`server.store.settings`); a
setting never stored has its default. The commune's name defaults to the one
in the imported roster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine

from server.clock import Clock, utc_now, utc_text
from server.store import read_transaction, write_transaction
from server.store import settings as stored_settings

__all__ = ["ServerSettings", "SettingError", "DEFAULTS", "load_settings", "settings_in", "save_setting",
           "check_setting", "LETTERHEAD_KEYS"]

DEFAULTS: dict[str, Any] = {
    "timezone": "Asia/Ho_Chi_Minh",
    "rank_min_ratings": 30,
    "commune_name": "",
    "comment_days": 7,
    "comment_retention_days": 365,
    # Months a call-back number is kept after its case is resolved (server.callback_numbers).
    "callback_retention_months": 12,
    # Following up (server.cases) and its e-mail alerts (server.alerts).
    "case_levels": 1,
    "case_due_working_days": 2,
    # Days off besides the weekend (Tết, 30/4, 2/9…), as ISO dates: not working days.
    "holidays": [],
    "smtp_host": "",
    "smtp_port": 587,
    "smtp_from": "",
    "smtp_starttls": True,
    "smtp_user": "",
    "smtp_password": "",
    "alert_to": [],
    # Days the answer to a batch is kept for the tablet's retries (server.batches).
    "answer_retention_days": 30,
    # Hours a home visit's one-time rating link stays open (server.home_visits).
    "home_visit_hours": 24,
    # Posts to a survey's phone page from one address in an hour (server.comments):
    # a hall's Wi-Fi is one address for every citizen in it.
    "survey_posts_per_hour": 120,
    # The letterhead of letters and reports (server.documents): Decree 30/2020.
    "issuing_parent": "",
    "issuing_body": "",
    "document_symbol": "UBND",
    "place_name": "",
    "signer_capacity": "TM. ỦY BAN NHÂN DÂN",
    "leader_title": "CHỦ TỊCH",
    "leader_name": "",
}


class SettingError(ValueError):
    """A setting's value is refused; ``key`` names it, ``problem`` is a code
    (``unknown``, ``bad_timezone``, ``not_a_count``, ``empty``)."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class ServerSettings:
    """The settings as the dashboard uses them."""

    timezone: str = DEFAULTS["timezone"]
    rank_min_ratings: int = DEFAULTS["rank_min_ratings"]
    commune_name: str = DEFAULTS["commune_name"]
    comment_days: int = DEFAULTS["comment_days"]
    """Days after a rating during which its QR code's comment form is open."""
    comment_retention_days: int = DEFAULTS["comment_retention_days"]
    """Days a citizen's comment (text, phone number) is kept before it is erased."""
    callback_retention_months: int = DEFAULTS["callback_retention_months"]
    """Months a tablet's call-back number stays readable after its case is
    resolved; then its key is destroyed (:mod:`server.callback_numbers`)."""
    case_levels: int = DEFAULTS["case_levels"]
    """How many of each scale's lowest levels open a follow-up case (1: only
    the worst). A level that counts as satisfied never does."""
    case_due_working_days: int = DEFAULTS["case_due_working_days"]
    """Working days (Monday to Friday, local, but :attr:`holidays`) a case has before it is overdue."""
    holidays: tuple[str, ...] = ()
    """The commune's days off besides the weekend (ISO dates, in order): no
    working day for a case's due date. The state's holidays move with the
    lunar calendar and the government's yearly decision, so the admin enters them."""
    smtp_host: str = DEFAULTS["smtp_host"]
    """The mail server for alerts; empty: no e-mail is sent."""
    smtp_port: int = DEFAULTS["smtp_port"]
    smtp_from: str = DEFAULTS["smtp_from"]
    smtp_starttls: bool = DEFAULTS["smtp_starttls"]
    smtp_user: str = DEFAULTS["smtp_user"]
    smtp_password: str = DEFAULTS["smtp_password"]
    alert_to: tuple[str, ...] = ()
    """The leaders' addresses a new case is announced to."""
    answer_retention_days: int = DEFAULTS["answer_retention_days"]
    """Days a batch's answer is kept for replays; a retry after that is
    acknowledged record by record as duplicates (nothing is stored twice)."""
    home_visit_hours: int = DEFAULTS["home_visit_hours"]
    """Hours a home visit's one-time link stays open for the citizen's rating."""
    survey_posts_per_hour: int = DEFAULTS["survey_posts_per_hour"]
    """Posts to a survey's phone page from one address in an hour before the
    next is refused (:meth:`server.comments.CommentBox.count_post`): raised
    for a survey answered by a crowd on the hall's Wi-Fi."""
    issuing_parent: str = DEFAULTS["issuing_parent"]
    """The body above the commune on the letterhead (cơ quan chủ quản); usually empty."""
    issuing_body: str = DEFAULTS["issuing_body"]
    """The issuing body (cơ quan ban hành); empty: «ỦY BAN NHÂN DÂN» and the commune's name."""
    document_symbol: str = DEFAULTS["document_symbol"]
    """The issuing body's abbreviation in document numbers (``12/BC-UBND``)."""
    place_name: str = DEFAULTS["place_name"]
    """The place in the place-date line (địa danh); empty: the commune's name without «xã»/«phường»."""
    signer_capacity: str = DEFAULTS["signer_capacity"]
    """The capacity the leader signs in (``TM. ỦY BAN NHÂN DÂN``)."""
    leader_title: str = DEFAULTS["leader_title"]
    leader_name: str = DEFAULTS["leader_name"]
    """The signing leader's name; empty leaves the line for a hand-written one."""

    @property
    def zone(self) -> ZoneInfo:
        """The commune's time zone."""
        return ZoneInfo(self.timezone)


def check_setting(key: str, value: Any) -> Any:
    """The value to store for ``key``, checked (and normalised). Raises :class:`SettingError`."""
    if key == "timezone":
        if not isinstance(value, str) or not value:
            raise SettingError(key, "bad_timezone")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingError(key, "bad_timezone") from None
        return value
    if key in _BOUNDED_COUNTS:
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit() and text == str(int(text))) \
                or not 1 <= int(text) <= _BOUNDED_COUNTS[key]:
            raise SettingError(key, "not_a_count")
        return int(text)
    if key in ("rank_min_ratings", "comment_days", "comment_retention_days", "answer_retention_days",
               "callback_retention_months"):
        try:
            count = int(value)
        except (TypeError, ValueError):
            raise SettingError(key, "not_a_count") from None
        if isinstance(value, bool) or count < 1 or str(count) != str(value).strip():
            raise SettingError(key, "not_a_count")
        return count
    if key == "commune_name":
        if not isinstance(value, str) or not value.strip():
            raise SettingError(key, "empty")
        return value.strip()
    if key in _FOLLOW_UP_KEYS:
        return _check_follow_up(key, value)
    if key in LETTERHEAD_KEYS:
        # Free text that may be empty (a default is worked out from the name).
        if not isinstance(value, str) or len(value) > 200:
            raise SettingError(key, "bad_text")
        return " ".join(value.split())
    raise SettingError(key, "unknown")


# Counts from 1 to a bound: the hours a home visit's link stays open (two
# weeks), a survey's posts from one address in an hour.
_BOUNDED_COUNTS = {"home_visit_hours": 24 * 14, "survey_posts_per_hour": 10_000}

LETTERHEAD_KEYS = ("issuing_parent", "issuing_body", "document_symbol", "place_name", "signer_capacity",
                   "leader_title", "leader_name")


_FOLLOW_UP_KEYS = ("case_levels", "case_due_working_days", "holidays", "smtp_host", "smtp_port", "smtp_from",
                   "smtp_starttls", "smtp_user", "smtp_password", "alert_to")
MAX_HOLIDAYS = 400
"""Days off the setting holds at most (several years of them)."""


def _check_holidays(value: Any) -> list[str]:
    """Days off as sorted, distinct ISO dates, from a list or from the form's
    text (``dd/mm/yyyy`` or ``yyyy-mm-dd``, separated by commas, semicolons,
    spaces or new lines). Problem: ``bad_date``."""
    items = value.replace(";", ",").replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) > MAX_HOLIDAYS:
        raise SettingError("holidays", "bad_date")
    days = set()
    for item in items:
        text = str(item).strip()
        try:
            if "/" in text:
                day, month, year = (int(part) for part in text.split("/"))
                days.add(date(year, month, day))
            else:
                days.add(date.fromisoformat(text))
        except ValueError:
            raise SettingError("holidays", "bad_date") from None
    if any(not 2000 <= day.year <= 2100 for day in days):
        raise SettingError("holidays", "bad_date")
    return [day.isoformat() for day in sorted(days)]


def _check_follow_up(key: str, value: Any) -> Any:
    """The follow-up and alert settings, checked (problems: ``not_a_count``,
    ``not_a_port``, ``not_a_switch``, ``bad_address``)."""
    if key == "holidays":
        return _check_holidays(value)
    if key in ("case_levels", "case_due_working_days"):
        top = 4 if key == "case_levels" else 60
        if isinstance(value, bool) or str(value).strip() not in {str(n) for n in range(1, top + 1)}:
            raise SettingError(key, "not_a_count")
        return int(value)
    if key == "smtp_port":
        if isinstance(value, bool) or not str(value).strip().isdigit() or not 1 <= int(value) <= 65535:
            raise SettingError(key, "not_a_port")
        return int(value)
    if key == "smtp_starttls":
        if not isinstance(value, bool):
            raise SettingError(key, "not_a_switch")
        return value
    if key == "alert_to":
        addresses = value.replace(";", ",").split(",") if isinstance(value, str) else value
        if not isinstance(addresses, list | tuple) or not all(isinstance(a, str) for a in addresses):
            raise SettingError(key, "bad_address")
        cleaned = [a.strip() for a in addresses if a.strip()]
        if any("@" not in a or any(ch.isspace() for ch in a) or len(a) > 254 for a in cleaned):
            raise SettingError(key, "bad_address")
        return cleaned
    if not isinstance(value, str) or len(value) > 500:
        raise SettingError(key, "bad_text")
    text = value.strip()
    if key == "smtp_from" and text and "@" not in text:
        raise SettingError(key, "bad_address")
    return text


def load_settings(engine: Engine) -> ServerSettings:
    """The current settings: stored values over the defaults (read without the write lock)."""
    with read_transaction(engine) as conn:
        return settings_in(conn)


def settings_in(conn: Connection) -> ServerSettings:
    """The current settings as a transaction under way sees them (:func:`load_settings`)."""
    stored = stored_settings.stored_settings(conn)
    roster_name = stored_settings.roster_commune_name(conn) if "commune_name" not in stored else None
    values = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in stored:
            try:
                values[key] = check_setting(key, stored[key])
            except SettingError:
                pass  # a value edited by hand into something unusable: the default stands
    if "commune_name" not in stored and roster_name:
        values["commune_name"] = roster_name
    values["alert_to"] = tuple(values["alert_to"])
    values["holidays"] = tuple(values["holidays"])
    return ServerSettings(**values)


def save_setting(engine: Engine, key: str, value: Any, *, clock: Clock = utc_now) -> Any:
    """Check and store one setting; returns the value stored. Raises :class:`SettingError`."""
    checked = check_setting(key, value)
    stamp = utc_text(clock())
    write_transaction(engine, lambda conn: stored_settings.put_setting(conn, key, checked, stamp=stamp))
    return checked
