"""What citizens write to the commune: a comment on a rating, from the QR
code on the tablet's thank-you screen, and a suggestion in the electronic
suggestion box (hòm thư góp ý điện tử). Rules only: the SQL is in
:mod:`server.store.comments`, the pages in :mod:`server.web.comment_form`
(the public forms) and :mod:`server.web.comments` (the leaders' list).

The form of a rating opens with the rating's ``comment_token`` (compared in
constant time with the one in the stored record) until ``comment_days``
after the rating (:mod:`server.settings`); it takes one comment. Both forms
count every post per address: beyond :data:`POSTS_PER_HOUR` in an hour, a
post is refused (a survey's phone page counts apart, with a budget of its
own: :data:`SURVEY_POSTS_PER_HOUR`).

Personal data:

* a phone number is kept only with the citizen's explicit consent, for the
  commune's leaders to call back; it is never logged, never listed
  (:func:`comments_page` gives only whether a call-back was asked for), and is
  read only through :func:`callback_phone` (by the follow-up cases);
* the sender's address is kept only as a keyed digest (:meth:`CommentBox.address_hash`);
* a comment's text, name and phone number are erased ``comment_retention_days``
  after it was written (:func:`erase_expired`, run by
  ``python -m server erase-expired``) or on request (:func:`erase_comment`);
  both are audited, without the content.

Follow-up: once a comment on a rating, or a suggestion that asks for a
call-back (a phone number with consent), is stored, every function in
:data:`COMMENT_LISTENERS` is called with the engine and the comment's id.
Every comment on a rating is handed over, whatever its level: the follow-up
decides (a low level or a call-back opens a case; a comment about a rating
whose case is already open joins it, so the leader reads it there). The
follow-up cases (:mod:`server.cases`) append their own at import, so this
module needs to know nothing of them::

    from server.comments import COMMENT_LISTENERS
    COMMENT_LISTENERS.append(open_case_for_comment)

A listener that fails is logged (the comment's id only) and does not undo
the comment: the citizen has been told it was received.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from server.accounts import AccountBook
from server.clock import Clock, utc_now, utc_text
from server.settings import DEFAULTS, load_settings
from server.store import comments as stored
from server.store import read_transaction, write_transaction

__all__ = [
    "KIND_RATING", "KIND_SUGGESTION", "MAX_TEXT_CHARS", "MAX_NAME_CHARS", "POSTS_PER_HOUR",
    "SURVEY_POSTS_PER_HOUR", "COMMENT_LISTENERS",
    "CommentError", "Opening", "RatingToComment", "Comment", "CommentBox", "normalise_phone", "clean_text",
    "comments_page", "comment", "comment_of_rating", "callback_phone", "erase_comment", "erase_expired",
]

log = logging.getLogger("hailong.server.comments")

KIND_RATING = "rating"
KIND_SUGGESTION = "suggestion"
MAX_TEXT_CHARS = 1000
MAX_NAME_CHARS = 100
POSTS_PER_HOUR = 10
"""Posts to the public forms (a rating's comment, the suggestion box, a
rating at home) from one address in an hour before the next is refused."""
SURVEY_POSTS_PER_HOUR = DEFAULTS["survey_posts_per_hour"]
"""The default of the ``survey_posts_per_hour`` setting: posts to a survey's
phone page from one address in an hour, counted apart from the other forms.
A survey is answered by many citizens at once, on the commune hall's Wi-Fi
or a carrier's shared address, all behind one address (an answer set takes a
citizen a few minutes; 120 an hour leaves room for a busy hall and still
stops a flood; a commune expecting a crowd raises it)."""
_POST_WINDOW = timedelta(hours=1)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

COMMENT_LISTENERS: list[Callable[[Engine, int], None]] = []
"""Called with (engine, comment id) after a comment that may need following
up is stored: every comment on a rating, and a suggestion asking for a call-back."""


class CommentError(ValueError):
    """A comment that cannot be taken; ``code`` names why for the pages
    (``comment_form.error.<code>``): ``empty``, ``too_long``, ``name_too_long``,
    ``bad_phone``, ``no_consent``, or the state of the rating's form
    (``not_found``, ``wrong_token``, ``expired``, ``received``)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class Opening(StrEnum):
    """Where a rating's comment form stands for a visitor with a token."""

    OPEN = "open"
    NOT_FOUND = "not_found"
    """The server has no such rating: a wrong address, or the tablet has not uploaded it yet."""
    WRONG_TOKEN = "wrong_token"
    RECEIVED = "received"
    """A comment on this rating was already taken."""
    EXPIRED = "expired"


@dataclass(frozen=True)
class RatingToComment:
    """The rating a comment form is about, as the citizen is shown it."""

    uuid: str
    officer_id: str | None
    counter_id: str | None
    level: str | None
    score: int | None
    scale: int | None
    corrected_time: str


@dataclass(frozen=True)
class Comment:
    """A comment as the leaders' list shows it: never its phone number nor
    where it came from, only whether a call-back was asked for."""

    id: int
    kind: str
    rating_uuid: str | None
    text: str | None
    """None once erased."""
    name: str | None
    callback_requested: bool
    created_at: str
    erased_at: str | None
    officer_id: str | None = None
    counter_id: str | None = None
    level: str | None = None
    score: int | None = None
    scale: int | None = None
    rated_at: str | None = None


def normalise_phone(text: str) -> str | None:
    """A Vietnamese phone number as ten or eleven digits starting with 0
    (spaces, dots and dashes dropped; +84 read as 0), None when empty.
    Raises :class:`CommentError` (``bad_phone``) for anything else.

    Mobile numbers are 10 digits (03, 05, 07, 08, 09); landlines 11 (02…)."""
    digits = re.sub(r"[\s.\-()]", "", text or "")
    if not digits:
        return None
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not digits.isascii() or not digits.isdigit():
        raise CommentError("bad_phone")
    mobile = len(digits) == 10 and digits[:2] in ("03", "05", "07", "08", "09")
    landline = len(digits) == 11 and digits.startswith("02")
    if not (mobile or landline):
        raise CommentError("bad_phone")
    return digits


def clean_text(text: str | None, limit: int, too_long: str) -> str:
    """Text as typed, with line ends made plain and control characters
    dropped (a NUL cannot be stored on PostgreSQL), trimmed; raises
    :class:`CommentError` (``too_long``) beyond ``limit`` characters."""
    plain = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    plain = "".join(ch for ch in plain if ch in "\n\t" or ch.isprintable()).strip()
    if len(plain) > limit:
        raise CommentError(too_long)
    return plain


class CommentBox:
    """Takes what citizens write through the public forms. ``clock`` gives
    the UTC time (the form's expiry, the limit per address, the stamps)."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now):
        self.engine = engine
        self.clock = clock
        self._key: bytes | None = None

    # -- who is posting ---------------------------------------------------------

    def address_hash(self, address: str) -> str:
        """The keyed digest kept instead of an address: the same address gives
        the same digest (for the limit), but the digest does not give the
        address back, even by trying every IPv4 address, without the key."""
        if self._key is None:
            stamp = utc_text(self.clock())
            self._key = write_transaction(self.engine, lambda conn: stored.form_key(conn, stamp=stamp))
        return hmac.new(self._key, (address or "unknown").encode("utf-8"), hashlib.sha256).hexdigest()

    def count_post(self, address: str, *, survey: bool = False) -> bool:
        """Count a post from ``address``; whether it is within the limit
        (:data:`POSTS_PER_HOUR` in the last hour, this one included). A
        post to a survey's page (``survey``) counts against a budget of its
        own, the ``survey_posts_per_hour`` setting."""
        # The survey's budget is the digest of another text: the posts' table
        # and its clean-up stay as they are, and the two never mix.
        digest = self.address_hash(f"survey {address}" if survey else address)
        limit = load_settings(self.engine).survey_posts_per_hour if survey else POSTS_PER_HOUR
        now = self.clock()

        def count(conn) -> int:
            stored.forget_posts_before(conn, utc_text(now - timedelta(days=1)))
            stored.add_post(conn, digest, utc_text(now))
            return stored.posts_since(conn, digest, utc_text(now - _POST_WINDOW))

        return write_transaction(self.engine, count) <= limit

    # -- a rating's form --------------------------------------------------------

    def rating(self, rating_uuid: str) -> RatingToComment | None:
        """The stored rating of that UUID, if the server has it."""
        found = self._rating_row(rating_uuid)
        return _rating(found) if found else None

    def opening(self, rating_uuid: str, token: str | None) -> Opening:
        """Whether the form of a rating is open to a visitor with ``token``."""
        found = self._rating_row(rating_uuid)
        return self._opening(found, token)

    def comment_on_rating(self, rating_uuid: str, token: str | None, *, text: str | None, phone: str | None,
                          consent: bool, address: str) -> int:
        """Take the one comment of a rating; its id. Raises
        :class:`CommentError` when the form is not open (its
        :class:`Opening`'s value as the code) or the input is refused."""
        found = self._rating_row(rating_uuid)
        state = self._opening(found, token)
        if state is not Opening.OPEN:
            raise CommentError(state.value)
        rating = _rating(found)
        body, number = _checked(text, phone, consent)
        values = dict(kind=KIND_RATING, rating_uuid=rating.uuid, text=body, name=None, phone=number,
                      consent=number is not None, callback_requested=number is not None,
                      created_at=utc_text(self.clock()), address_hash=self.address_hash(address))
        try:
            comment_id = write_transaction(self.engine, lambda conn: self._add_once(conn, values))
        except IntegrityError:
            # Another post of the same form won the unique key.
            raise CommentError(Opening.RECEIVED.value) from None
        # Every comment on a rating: the follow-up knows which levels open a
        # case (a setting) and whether the rating already has one to join.
        _tell_listeners(self.engine, comment_id)
        return comment_id

    # -- the suggestion box -----------------------------------------------------

    def suggest(self, *, text: str | None, name: str | None, phone: str | None, consent: bool, address: str) -> int:
        """Take a suggestion; its id. Raises :class:`CommentError`."""
        body, number = _checked(text, phone, consent)
        signed = clean_text(name, MAX_NAME_CHARS, "name_too_long") or None
        values = dict(kind=KIND_SUGGESTION, rating_uuid=None, text=body, name=signed, phone=number,
                      consent=number is not None, callback_requested=number is not None,
                      created_at=utc_text(self.clock()), address_hash=self.address_hash(address))
        comment_id = write_transaction(self.engine, lambda conn: stored.add_comment(conn, **values))
        if number is not None:
            _tell_listeners(self.engine, comment_id)
        return comment_id

    # -- inside -----------------------------------------------------------------

    def _rating_row(self, rating_uuid: str) -> dict[str, Any] | None:
        if not _UUID.match(rating_uuid or ""):
            return None
        with read_transaction(self.engine) as conn:
            found = stored.rating_for_comment(conn, rating_uuid)
            if found is not None:
                found["comment_id"] = stored.comment_of_rating(conn, rating_uuid)
        return found

    def _opening(self, found: dict[str, Any] | None, token: str | None) -> Opening:
        if found is None:
            return Opening.NOT_FOUND
        expected = found["comment_token"]
        if not expected or not token or not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            return Opening.WRONG_TOKEN
        if found["comment_id"] is not None:
            return Opening.RECEIVED
        days = load_settings(self.engine).comment_days
        if self.clock() >= datetime.fromisoformat(found["corrected_time"]) + timedelta(days=days):
            return Opening.EXPIRED
        return Opening.OPEN

    @staticmethod
    def _add_once(conn, values: dict[str, Any]) -> int:
        if stored.comment_of_rating(conn, values["rating_uuid"]) is not None:
            raise CommentError(Opening.RECEIVED.value)
        return stored.add_comment(conn, **values)


def _rating(found: dict[str, Any]) -> RatingToComment:
    return RatingToComment(uuid=found["uuid"], officer_id=found["officer_id"], counter_id=found["counter_id"],
                           level=found["level"], score=found["score"], scale=found["scale"],
                           corrected_time=found["corrected_time"])


def _checked(text: str | None, phone: str | None, consent: bool) -> tuple[str, str | None]:
    """The text and phone number to keep: something must be said, and a
    number is kept only with consent (a number without it is refused, so
    the citizen sees why rather than losing it silently)."""
    body = clean_text(text, MAX_TEXT_CHARS, "too_long")
    number = normalise_phone(phone or "")
    if number is not None and not consent:
        raise CommentError("no_consent")
    if not body and number is None:
        raise CommentError("empty")
    return body, number


def _tell_listeners(engine: Engine, comment_id: int) -> None:
    for listener in list(COMMENT_LISTENERS):
        try:
            listener(engine, comment_id)
        except Exception:  # the comment is stored and the citizen told so: a failed follow-up is logged
            log.exception("a follow-up of comment %d failed", comment_id)


# -- for the dashboard and the follow-up cases -------------------------------------


def _comment(row: dict[str, Any]) -> Comment:
    return Comment(id=row["id"], kind=row["kind"], rating_uuid=row["rating_uuid"], text=row["text"],
                   name=row["name"], callback_requested=bool(row["callback_requested"]),
                   created_at=row["created_at"], erased_at=row["erased_at"], officer_id=row.get("officer_id"),
                   counter_id=row.get("counter_id"), level=row.get("level"), score=row.get("score"),
                   scale=row.get("scale"), rated_at=row.get("corrected_time"))


def comments_page(engine: Engine, kind: str, *, page: int = 1, per_page: int = 50) -> tuple[list[Comment], int]:
    """One page of comments of a kind (``rating`` or ``suggestion``), newest
    first, and how many there are. Never the phone numbers."""
    page = max(1, page)
    with read_transaction(engine) as conn:
        rows = stored.comment_page(conn, kind, offset=(page - 1) * per_page, limit=per_page)
        total = stored.comment_count(conn, kind)
    return [_comment(row) for row in rows], total


def comment(engine: Engine, comment_id: int) -> Comment | None:
    """One comment (never its phone number)."""
    with read_transaction(engine) as conn:
        row = stored.comment_row(conn, comment_id)
    return _comment(row) if row else None


def comment_of_rating(engine: Engine, rating_uuid: str) -> Comment | None:
    """The comment given on a rating, if any (never its phone number)."""
    with read_transaction(engine) as conn:
        comment_id = stored.comment_of_rating(conn, rating_uuid)
        row = stored.comment_row(conn, comment_id) if comment_id is not None else None
    return _comment(row) if row else None


def callback_phone(engine: Engine, comment_id: int) -> str | None:
    """The number a citizen asked to be called back on, with consent; None
    when there is none or it was erased. The only way to read it: the
    follow-up cases show it to the case's owner and the leaders while the case is open."""
    with read_transaction(engine) as conn:
        return stored.phone_of(conn, comment_id)


def erase_comment(engine: Engine, comment_id: int, actor: str | None, *, address: str | None = None,
                  clock: Clock = utc_now) -> bool:
    """Erase a comment's text, name and phone number at the citizen's request
    (the row stays: the rating still counts as commented on); audited as
    ``comment.erase``. Whether there was anything to erase."""
    stamp = utc_text(clock())
    erased = write_transaction(engine, lambda conn: stored.erase(conn, comment_id, at=stamp, by=actor))
    if erased:
        AccountBook(engine, clock=clock).audit(actor, "comment.erase", f"comment {comment_id}", "", address)
    return erased


def erase_expired(engine: Engine, now: datetime) -> int:
    """Erase the text, name and phone number of every comment written more
    than ``comment_retention_days`` before ``now``; audited as
    ``comment.erase_expired`` with the count. How many were erased."""
    days = load_settings(engine).comment_retention_days
    before = utc_text(now - timedelta(days=days))
    count = write_transaction(engine, lambda conn: stored.erase_created_before(conn, before, at=utc_text(now)))
    AccountBook(engine, clock=lambda: now).audit(None, "comment.erase_expired", None,
                                                 f"{count} comments older than {days} days")
    return count
