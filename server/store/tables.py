"""The server's tables (SQLAlchemy Core): the one description of what the
database holds.

Times are stored as ISO 8601 UTC text with milliseconds, which sorts
correctly on every database. On PostgreSQL the short text columns compare by
code point as SQLite's do (see :func:`_text`), and the columns are wide
enough for every value the wire rules let through.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.sql.expression import Alias, ColumnElement

from sync.protocol import MAX_FIELD_CHARS
from sync.record import MAX_DOSSIER_CODE_CHARS

__all__ = [
    "metadata", "TIME", "devices", "pairings", "records", "receipts", "findings", "conflicts", "batches", "boots",
    "roster", "portraits", "accounts", "sessions", "login_attempts", "audit_log",
    "settings", "RATING_INDEXES", "RETIRED_INDEXES", "cases", "case_events", "comments", "comment_posts", "letters",
    "server_keys", "callback_keys", "DOSSIER_INDEX", "standing_level", "home_visits",
    "questionnaires", "survey_campaigns", "survey_responses",
]

metadata = MetaData()


def _text(length: int) -> String:
    """A VARCHAR that compares and sorts by code point on every database.

    SQLite compares text byte by byte (UTF-8, so by code point); PostgreSQL
    uses the database's collation, which for a usual locale (vi_VN, en_US)
    puts ``a2`` before ``B1``. The "C" collation makes PostgreSQL order device
    ids and times as SQLite does, and its indexes compare faster too. On
    SQLite the column is the plain VARCHAR it always was."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


TIME = _text(40)  # ISO 8601 UTC text

devices = Table(
    "devices",
    metadata,
    Column("device_id", _text(64), primary_key=True),
    Column("label", _text(200)),
    Column("app_version", _text(50)),
    Column("secret", _text(128), nullable=False),
    Column("status", _text(16), nullable=False),  # active | revoked
    Column("paired_at", TIME),
    Column("revoked_at", TIME),
    Column("revoked_reason", Text),
    Column("last_seen_at", TIME),
    Column("pending_count", BigInteger),
    Column("clock_offset_s", Float),
    Column("clock_checked_at", TIME),
    Column("clock_off", Boolean, nullable=False, default=False),
    Column("head_seq", BigInteger, nullable=False, default=0),
    Column("head_hash", _text(64), nullable=False),
    # A record's boot id and level are held to the wire's limit on any text
    # field, not less: PostgreSQL enforces VARCHAR lengths (SQLite does not),
    # and a record the rules accept must not fail its whole batch there.
    Column("head_boot_id", _text(MAX_FIELD_CHARS)),
    Column("head_monotonic_ns", BigInteger),
    Column("records_count", BigInteger, nullable=False, default=0),
    # Forward-secure seals (server.seals): the first sealed sequence number,
    # and the key of the record after the last verified one (never an older
    # key); the first key's id recognises a repeated registration.
    Column("seal_first_seq", BigInteger),
    Column("seal_seq", BigInteger),
    Column("seal_key", LargeBinary(32)),
    Column("seal_key_id", _text(64)),
)

pairings = Table(
    "pairings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_code_digest", _text(64), nullable=False, unique=True),
    Column("user_code", _text(16), nullable=False, unique=True),
    Column("device_id", _text(64), nullable=False),
    Column("label", _text(200)),
    Column("app_version", _text(50)),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("last_poll_at", TIME),
    Column("status", _text(16), nullable=False),  # pending | approved | denied | delivered
    Column("decided_at", TIME),
)

records = Table(
    "records",
    metadata,
    # Every field of the record, each once: its wire form is rebuilt from
    # them (server.store.records.record_of_row) and hashes back to ``hash``.
    # The hashes are 32 raw bytes, not 64 hex characters.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("uuid", _text(64), nullable=False),
    Column("kind", _text(16), nullable=False),
    Column("v", Integer, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("boot_id", _text(MAX_FIELD_CHARS)),  # as head_boot_id
    Column("monotonic_ns", BigInteger),
    Column("device_time", _text(40), nullable=False),
    Column("app_version", _text(MAX_FIELD_CHARS), nullable=False),
    Column("corrected_time", TIME, nullable=False),
    Column("time_method", _text(16), nullable=False),
    Column("clock_offset_s", Float, nullable=False),
    # The batch it came in, and when (a receipt is one row per batch).
    Column("receipt_id", Integer, nullable=False),
    Column("flags", _text(300), nullable=False, default=""),
    Column("officer_id", _text(500)),
    Column("counter_id", _text(500)),
    Column("score", Integer),
    Column("scale", Integer),
    Column("level", _text(MAX_FIELD_CHARS)),  # as head_boot_id
    Column("burst", Boolean),
    Column("simulated", Boolean),
    Column("comment_token", _text(MAX_FIELD_CHARS)),
    Column("rating_uuid", _text(64)),
    Column("reasons", Text),  # JSON list
    Column("callback_phone", _text(MAX_FIELD_CHARS)),
    Column("callback_consent", Boolean),
    Column("callback_requested", Boolean),
    Column("callback_box", _text(200)),  # format 3: the number encrypted (server.callback_numbers)
    Column("seal", LargeBinary(32)),  # format 2's seal (sync.seal), raw; NULL when unsealed
    Column("dossier_code", _text(MAX_DOSSIER_CODE_CHARS)),  # format 3, on a rating
    # Not fields of the record: a rating's first correction (format 3), set
    # when it arrives (server.corrections); every figure counts this level.
    Column("corrected_score", Integer),
    Column("corrected_level", _text(MAX_FIELD_CHARS)),
    # Format 4, a survey record (sync.record; its answer set also goes to survey_responses).
    Column("campaign_id", _text(64)),
    Column("questionnaire_id", _text(64)),
    Column("questionnaire_version", Integer),
    Column("answers", Text),  # sync.survey.answers_text, as the tablet hashed it
    Column("complete", Boolean),
    UniqueConstraint("device_id", "seq", name="uq_records_device_seq"),
    # A UUID belongs to the device that made it: another device's record
    # with the same UUID is kept apart (and noted), never taken for it.
    # The UUID first, so a rating is found by its UUID alone (the comment form).
    UniqueConstraint("uuid", "device_id", name="uq_records_uuid_device"),
)

# A rating's dossier code, to find an earlier rating of the same dossier (server.dossiers).
DOSSIER_INDEX = Index("ix_records_dossier_code", records.c.dossier_code,
                      sqlite_where=text("dossier_code IS NOT NULL"),
                      postgresql_where=text("dossier_code IS NOT NULL"))


def standing_level(table: Table | Alias) -> ColumnElement:
    """A rating's level as every figure counts it: its correction's, else its own."""
    return func.coalesce(table.c.corrected_level, table.c.level).label("level")


receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False),
    Column("batch_key", _text(100), nullable=False),
    Column("received_at", TIME, nullable=False),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False, index=True),
    Column("seq", BigInteger),
    Column("uuid", _text(64)),
    Column("problem", _text(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("found_at", TIME, nullable=False),
    Column("batch_key", _text(100)),
    # Set when what the finding reported no longer holds (the records a gap
    # said were missing all arrived, linked both ways). The row stays, as history.
    Column("resolved_at", TIME),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", _text(64), nullable=False, index=True),
    Column("uuid", _text(64)),
    Column("seq", BigInteger),
    Column("body", Text, nullable=False),
    Column("received_at", TIME, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("device_id", _text(64), nullable=False),
    Column("idempotency_key", _text(100), nullable=False),
    Column("records_digest", _text(64), nullable=False),
    # The answer as server.batches.compact_answer keeps it (a few bytes a
    # record); databases made before it hold the whole JSON text in
    # ``response`` until server.store.migrations converts it.
    Column("answer", LargeBinary, nullable=False),
    Column("received_at", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "idempotency_key"),
)

boots = Table(
    "boots",
    metadata,
    Column("device_id", _text(64), nullable=False),
    Column("boot_id", _text(100), nullable=False),
    Column("anchor_monotonic_ns", BigInteger, nullable=False),
    Column("anchor_server_time", TIME, nullable=False),
    PrimaryKeyConstraint("device_id", "boot_id"),
)

roster = Table(
    "roster",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("etag", _text(80), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", TIME, nullable=False),
)

portraits = Table(
    "portraits",
    metadata,
    Column("officer_id", _text(200), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", _text(50), nullable=False),
    Column("sha256", _text(64), nullable=False),
)

# -- the dashboard's people (server.accounts) -----------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", _text(64), nullable=False, unique=True),
    Column("display_name", _text(200)),
    Column("role", _text(16), nullable=False),  # admin | leader | officer | observer
    Column("officer_id", _text(200)),  # the roster entry of an officer's account
    Column("password_hash", _text(200), nullable=False),  # argon2id, never the password
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", TIME, nullable=False),
    Column("password_changed_at", TIME, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    # Only a digest of the cookie's token: a copy of the database logs nobody in.
    Column("token_digest", _text(64), primary_key=True),
    Column("account_id", Integer, nullable=False, index=True),
    Column("csrf", _text(64), nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("address", _text(64)),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", _text(64), nullable=False, index=True),
    Column("address", _text(64), nullable=False, index=True),
    Column("at", TIME, nullable=False),
    Column("success", Boolean, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", TIME, nullable=False),
    Column("actor", _text(64)),  # the account's username; none for a failed login's unknown user
    Column("action", _text(64), nullable=False),
    Column("target", _text(200)),
    Column("detail", Text, nullable=False, default=""),
    Column("address", _text(64)),
)

# -- the dashboard's figures (server.settings, server.store.ratings) ------------

settings = Table(
    "settings",
    metadata,
    Column("key", _text(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", TIME, nullable=False),
)

# The dashboard reads ratings by time (the commune's board) and by officer and
# time (an officer's history), and the details added to each rating. On
# SQLite one index serves both: it holds every column those counts group by
# (and the UUID that finds a rating's details), so a year of ratings is
# counted from the index alone, never from the wide rows, and a query over
# every officer skips through it officer by officer (SQLite's skip-scan, which
# needs the statistics server.store.statistics keeps fresh). A second such
# index led by the time would cost a fifth of the database's size. PostgreSQL
# refuses an index entry over about 2.7 kB, which the longest values the wire
# rules let through would exceed: there the indexes hold only the keys the
# queries search by, one led by the time and one by the officer. Only ratings
# (or details) are indexed: a query must say kind = 'rating' as a literal
# for the database to pick them.
_RATING_ONLY = text("kind = 'rating'")
_DETAILS_ONLY = text("kind = 'details'")
# ``kind`` last: SQLite reads the row to test a partial index's own
# condition unless the index holds that column too.
_COUNTED = ("level", "corrected_level", "device_id", "simulated", "burst", "flags", "uuid", "kind")


def _rating_indexes(dialect: str, wide: bool) -> tuple[Index, ...]:
    counted = [records.c[name] for name in _COUNTED] if wide else []
    where = {f"{dialect}_where": _RATING_ONLY}
    details_where = {f"{dialect}_where": _DETAILS_ONLY}
    # The device too: a rating's details are its own device's (a UUID is unique per device).
    details = [records.c.device_id, records.c.reasons, records.c.callback_requested, records.c.kind] if wide else []
    by_time = () if wide else (
        Index(f"ix_records_ratings_by_time_{dialect}", records.c.corrected_time, records.c.officer_id, **where),)
    return tuple(index.ddl_if(dialect=dialect) for index in (
        *by_time,
        Index(f"ix_records_ratings_of_officer_{dialect}", records.c.officer_id, records.c.corrected_time, *counted,
              **where),
        Index(f"ix_records_details_of_rating_{dialect}", records.c.rating_uuid, *details, **details_where),
    ))


RETIRED_INDEXES = ("ix_records_ratings_by_time_sqlite", "ix_records_details_by_rating_sqlite",
                   "ix_records_details_by_rating_postgresql", "ix_records_ratings_by_officer_sqlite",
                   "ix_records_ratings_by_officer_postgresql")
"""Indexes older versions made and this one drops (server.store.migrations)."""

RATING_INDEXES = {"sqlite": _rating_indexes("sqlite", wide=True),
                  "postgresql": _rating_indexes("postgresql", wide=False)}
"""The dashboard's indexes on ``records``, by database."""


# -- what citizens write (server.comments) ----------------------------------------

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", _text(16), nullable=False),  # rating | suggestion
    # One comment per rating: the unique key is what refuses a second one.
    # (Suggestions have none; NULLs never collide.)
    Column("rating_uuid", _text(64), unique=True),
    Column("text", Text),  # None once erased
    Column("name", _text(200)),  # a suggestion's optional signature
    Column("phone", _text(20)),  # only with consent; None once erased or never given
    Column("consent", Boolean, nullable=False, default=False),
    Column("callback_requested", Boolean, nullable=False, default=False),  # stays after erasure
    Column("created_at", TIME, nullable=False, index=True),
    Column("address_hash", _text(64), nullable=False),  # keyed digest, never the address
    Column("erased_at", TIME),
    Column("erased_by", _text(64)),
)

comment_posts = Table(
    "comment_posts",
    metadata,
    # Every post to the public forms, accepted or not, for the limit per address.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address_hash", _text(64), nullable=False),
    Column("at", TIME, nullable=False),
    Index("ix_comment_posts_address_at", "address_hash", "at"),
)


# -- call-back numbers, crypto-shredded (server.callback_numbers) -----------------

server_keys = Table(
    "server_keys",
    metadata,
    # The server's own key pairs, made once; the private half never leaves
    # the database (owner-only on SQLite).
    Column("name", _text(32), primary_key=True),  # callback
    Column("public_key", LargeBinary(32), nullable=False),
    Column("private_key", LargeBinary(32), nullable=False),
    Column("created_at", TIME, nullable=False),
)

callback_keys = Table(
    "callback_keys",
    metadata,
    # Each call-back number's own key, as the tablet sealed it to the
    # server's public key: outside the chain, so destroying it (sealed_key
    # set to NULL) erases the number while every record still verifies.
    # The row stays as a tombstone: a replayed batch cannot bring the key back.
    Column("record_uuid", _text(64), nullable=False),
    Column("device_id", _text(64), nullable=False),
    Column("rating_uuid", _text(64), nullable=False, index=True),
    Column("sealed_key", LargeBinary(80)),  # None once erased
    Column("received_at", TIME, nullable=False),
    Column("erased_at", TIME),
    Column("erased_by", _text(64)),  # the account, or None for the retention
    Column("erase_reason", _text(16)),  # request | retention
    PrimaryKeyConstraint("record_uuid", "device_id", name="pk_callback_keys"),
)


# -- following up low ratings and call-backs (server.cases) -----------------------

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # What the case is about; each unique, so a rating (or a comment) never
    # opens two cases, whatever is replayed. NULLs never collide.
    Column("rating_uuid", _text(64), unique=True),
    Column("comment_id", Integer, unique=True),
    Column("cause", _text(16), nullable=False),  # low_rating | callback | comment
    Column("callback", Boolean, nullable=False, default=False),  # a call-back was asked for (never the number)
    Column("officer_id", _text(500)),
    Column("scale", Integer),
    Column("level", _text(MAX_FIELD_CHARS)),
    Column("status", _text(16), nullable=False),  # new | assigned | contacted | resolved
    Column("owner_id", Integer),  # an account (leader or admin)
    Column("outcome", _text(32)),
    Column("opened_at", TIME, nullable=False),
    Column("due_at", TIME, nullable=False),  # the instant it becomes overdue (end of the due day, local)
    Column("due_on", _text(10), nullable=False),  # the due day, local (ISO date)
    Column("resolved_at", TIME),
    Column("updated_at", TIME, nullable=False),
    Index("ix_cases_status_due", "status", "due_at"),
    Index("ix_cases_officer", "officer_id"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("at", TIME, nullable=False),
    Column("actor", _text(64)),  # the account's username; None when the server opened the case
    Column("action", _text(16), nullable=False),  # opened | callback | comment | assigned | status | outcome | note
    Column("value", _text(200)),  # the new status, outcome or owner's username
    Column("note", Text),  # a note's text (never shown to the officer)
)


# -- ratings given at home, on the citizen's own phone (server.home_visits) ----------

home_visits = Table(
    "home_visits",
    metadata,
    # One visit an officer made to settle a dossier at a citizen's home: a
    # one-time link for the citizen's phone. Only the token's digest is kept:
    # a copy of the database opens no visit.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_digest", _text(64), nullable=False, unique=True),
    Column("officer_id", _text(200), nullable=False),
    Column("dossier_code", _text(MAX_DOSSIER_CODE_CHARS), nullable=False),
    Column("created_by", _text(64), nullable=False),  # the account's username
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("used_at", TIME),  # when the citizen rated: the link is spent
    Column("rating_uuid", _text(64)),  # the rating record the server wrote
    # The rater's browser holds the key to add reasons (and a call-back) once,
    # after the rating; only its digest is kept, emptied once they are added.
    Column("details_digest", _text(64)),
    Column("details_at", TIME),
    Index("ix_home_visits_officer", "officer_id", "created_at"),
)


# -- the letters the commune issues (server.letters) -------------------------------

letters = Table(
    "letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", _text(16), nullable=False),  # apology | thanks
    # What the letter answers: a case (apology) or a comment (thanks). One
    # letter each, so a second download gives the same number back.
    Column("case_id", Integer),
    Column("comment_id", Integer),
    Column("year", Integer, nullable=False),  # the local year its number belongs to
    Column("number", Integer, nullable=False),  # from 1 each year, per kind
    Column("issued_at", TIME, nullable=False),
    Column("issued_on", _text(10), nullable=False),  # the local date it bears (ISO)
    Column("issued_by", _text(64), nullable=False),  # the account's username
    UniqueConstraint("kind", "year", "number", name="uq_letters_kind_year_number"),
    UniqueConstraint("kind", "case_id", name="uq_letters_kind_case"),
    UniqueConstraint("kind", "comment_id", name="uq_letters_kind_comment"),
    Index("ix_letters_issued_at", "issued_at"),
)


# -- the Fatherland Front's surveys (server.store.surveys) -------------------------

questionnaires = Table(
    "questionnaires",
    metadata,
    # One row per version: once answers exist, an edit adds a version and
    # the answers keep the one they were given under (sync.survey).
    Column("id", _text(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the Questionnaire's plain form, JSON
    Column("created_at", TIME, nullable=False),
    Column("created_by", Integer),  # an account
    PrimaryKeyConstraint("id", "version", name="pk_questionnaires"),
)

survey_campaigns = Table(
    "survey_campaigns",
    metadata,
    Column("id", _text(64), primary_key=True),
    Column("title", _text(200), nullable=False),
    Column("questionnaire_id", _text(64), nullable=False),
    Column("questionnaire_version", Integer, nullable=False),  # the version it asks now
    Column("starts_on", _text(10), nullable=False),  # local ISO dates, both included
    Column("ends_on", _text(10), nullable=False),
    Column("kiosk", Boolean, nullable=False, default=False),
    Column("device_ids", Text),  # JSON list of the tablets that ask it; NULL: every tablet
    Column("public_link", Boolean, nullable=False, default=False),
    Column("public_token", _text(64), nullable=False, unique=True),
    Column("paper", Boolean, nullable=False, default=False),
    Column("target", Integer, nullable=False, default=0),
    Column("created_at", TIME, nullable=False),
    Column("created_by", Integer),  # an account
)

survey_responses = Table(
    "survey_responses",
    metadata,
    # Anonymous: no address, no identity of who answered; entered_by is the
    # account that typed a paper form in.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", _text(64), nullable=False),
    Column("questionnaire_id", _text(64), nullable=False),
    Column("questionnaire_version", Integer, nullable=False),
    Column("channel", _text(8), nullable=False),  # kiosk | phone | paper
    Column("answered_at", TIME, nullable=False),
    Column("answers", Text, nullable=False),  # sync.survey.answers_text
    Column("complete", Boolean, nullable=False),
    Column("device_id", _text(64)),
    Column("record_uuid", _text(64)),
    Column("entered_by", Integer),
    # A tablet's survey record is stored once, however often its batch is
    # replayed (NULLs never collide: phone and paper answers have neither).
    UniqueConstraint("device_id", "record_uuid", name="uq_survey_responses_record"),
    Index("ix_survey_responses_campaign", "campaign_id", "answered_at"),
    Index("ix_survey_responses_questionnaire", "questionnaire_id", "questionnaire_version"),
)
