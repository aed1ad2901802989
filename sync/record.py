"""The record a tablet writes for each tap, its canonical encoding and its hash chain.

Both ends import this module: the tablet builds and chains records with it, the
commune server verifies them with the very same code. Nothing here knows about
Kivy, SQLite or HTTP.

A device's journal is a sequence of records numbered 1, 2, 3, ... Each record
carries the hash of the one before it (``prev_hash``) and its own ``hash``, the
SHA-256 of its canonical encoding. Deleting, editing or inserting a record
breaks the chain at that point, and :func:`verify_chain` says where and how.

Format versions. Version 1 records carry their hash only. Version 2 adds
``seal``: the forward-secure seal of :mod:`sync.seal`, made with the device's
evolving key, or empty for a record made while the device was not paired
("unsealed"). The seal is outside the hash (the hash is what it covers).
Version 3 adds the ``correction`` kind and, on ``rating``,
``dossier_code``; on ``details`` it replaces ``callback_phone`` (the number in
clear) by ``callback_box``, the number encrypted under a key of its own that
travels outside the chain, so the server can erase the number by destroying
that key while the chain still verifies (:data:`FIELDS_UNTIL`). Every version
parses, hashes and verifies; an older record
keeps exactly its fields and bytes: a field enters a kind's hashed fields only
from the version that added it (:data:`FIELDS_SINCE`, :func:`kind_fields`).
Version 4 adds the ``survey`` kind and nothing else: a tablet writes each
record in the oldest version that holds its kind (:func:`written_version`),
so its ratings stay in version 3, which a server of the previous release
still reads, and only survey records (which only a server that sent the
tablet a campaign receives) are version 4.

Four kinds of record exist:

``rating``
    the citizen's tap: which officer, at which counter, which level of which
    scale. Written the moment the smiley is tapped.
``details``
    what the citizen added afterwards to a rating (reasons, a call-back request).
    Written when they finish or when the screen times out. A rating without
    details is still a complete rating.
``correction``
    (from version 3) the citizen changed their tap within the short window the
    tablet offers: it points at the rating (``rating_uuid``) and carries the
    corrected ``score``, ``scale`` and ``level``. The rating itself stays in
    the chain untouched; at most one correction per rating counts.
``survey``
    (from version 4) one citizen's answers to a questionnaire of the
    Fatherland Front's survey campaign (:mod:`sync.survey`): the campaign,
    the questionnaire's id and version, the answers as their canonical text
    (:func:`sync.survey.answers_text`) and whether every required question
    was answered. Anonymous: no officer, no counter; it is not a rating and
    no figure of ratings counts it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Any

from sync.survey import SurveyError, answers_of_text, answers_text

__all__ = [
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "SEALED_FROM_VERSION",
    "COMMON_FIELDS",
    "KIND_FIELDS",
    "GENESIS_HASH",
    "KIND_RATING",
    "KIND_DETAILS",
    "KIND_CORRECTION",
    "KIND_SURVEY",
    "KIND_SINCE",
    "FIELDS_SINCE",
    "FIELDS_UNTIL",
    "MAX_CALLBACK_BOX_CHARS",
    "MAX_DOSSIER_CODE_CHARS",
    "MAX_SURVEY_ANSWERS_CHARS",
    "kind_fields",
    "wire_fields",
    "written_version",
    "Record",
    "RecordError",
    "ChainFinding",
    "canonical_bytes",
    "compute_hash",
    "seal",
    "verify_chain",
]

FORMAT_VERSION = 3
"""The version records are written in, unless their kind is newer (see :func:`written_version`)."""
FORMAT_VERSIONS = (1, 2, 3, 4)
"""Every version this code reads."""
SEALED_FROM_VERSION = 2
GENESIS_HASH = "0" * 64
KIND_RATING = "rating"
KIND_DETAILS = "details"
KIND_CORRECTION = "correction"
KIND_SURVEY = "survey"
MAX_DOSSIER_CODE_CHARS = 64
MAX_SURVEY_ANSWERS_CHARS = 16000
"""The longest ``answers`` text of a survey record (the other fields of a
record stay under the wire's 500 characters each)."""

# Fields every record has, whatever its kind. ``hash`` is left out: it is the
# digest of the others.
COMMON_FIELDS = (
    "v",
    "kind",
    "uuid",
    "device_id",
    "seq",
    "prev_hash",
    "device_time",
    "monotonic_ns",
    "boot_id",
    "app_version",
    "simulated",
)
KIND_FIELDS = {
    KIND_RATING: (
        "officer_id",
        "counter_id",
        "score",
        "scale",
        "level",
        "burst",
        "comment_token",
        "dossier_code",
    ),
    KIND_DETAILS: (
        "rating_uuid",
        "reasons",
        "callback_phone",
        "callback_box",
        "callback_consent",
    ),
    KIND_CORRECTION: (
        "rating_uuid",
        "score",
        "scale",
        "level",
    ),
    KIND_SURVEY: (
        "campaign_id",
        "questionnaire_id",
        "questionnaire_version",
        "answers",
        "complete",
    ),
}
"""Every field a kind can carry, in the newest version; see :func:`kind_fields`."""
KIND_SINCE = {KIND_CORRECTION: 3, KIND_SURVEY: 4}
"""The format version a kind first appears in (a kind not listed: version 1)."""
FIELDS_SINCE: dict[str, dict[str, int]] = {
    KIND_RATING: {"dossier_code": 3},
    KIND_DETAILS: {"callback_box": 3},
}
"""Per kind, the format version each later field was added in (a field not
listed has been there since version 1). An older record never carries it."""
FIELDS_UNTIL: dict[str, dict[str, int]] = {
    KIND_DETAILS: {"callback_phone": 2},
}
"""Per kind, the last format version that carries a field since dropped: a
newer record never carries it (format 3 details never hold a number in clear)."""
MAX_CALLBACK_BOX_CHARS = 200
"""The longest ``callback_box``: a phone number's ciphertext (24-byte nonce,
16-byte tag) in base64 is under 80 characters."""


@lru_cache(maxsize=64)
def kind_fields(kind: str, version: int) -> tuple[str, ...]:
    """The kind's own hashed fields in records of format ``version``
    (worked out once per kind and version: every record asks).

    Raises :class:`RecordError` for an unknown kind or a kind that did not
    exist yet in that version."""
    if kind not in KIND_FIELDS:
        raise RecordError(f"kind: unknown record kind {kind!r}")
    if version < KIND_SINCE.get(kind, 1):
        raise RecordError(f"kind: a {kind} record needs format version {KIND_SINCE[kind]} or later")
    since = FIELDS_SINCE.get(kind, {})
    until = FIELDS_UNTIL.get(kind, {})
    return tuple(name for name in KIND_FIELDS[kind] if since.get(name, 1) <= version <= until.get(name, version))


def written_version(kind: str) -> int:
    """The format version a new record of ``kind`` is written in: the
    current :data:`FORMAT_VERSION`, or the version that added the kind when
    that is newer (a survey record is version 4, a rating stays version 3)."""
    return max(FORMAT_VERSION, KIND_SINCE.get(kind, 1))


@lru_cache(maxsize=64)
def _hashed_names(kind: str, version: int) -> tuple[str, ...]:
    """The names of every hashed field of a record of this kind and version."""
    return COMMON_FIELDS + kind_fields(kind, version)


@lru_cache(maxsize=64)
def _wire_names(kind: str, version: int, sealed: bool) -> frozenset[str]:
    """The names a record of this kind and version carries on the wire."""
    return frozenset((*_hashed_names(kind, version), "hash", *(("seal",) if sealed else ())))


def wire_fields(kind: str, version: int, sealed: bool) -> tuple[tuple[str, type, bool], ...]:
    """Every field a record of this kind and version carries on the wire
    (``sealed``: with ``seal``, as from version 2), each with the type of
    its value and whether it may be null, as :meth:`Record.from_dict`
    checks them. For a checker of the wire form outside this module."""
    names = _wire_names(kind, version, sealed)
    return tuple(entry for entry in _typed_fields(kind, version) if entry[0] in names)


@lru_cache(maxsize=64)
def _typed_fields(kind: str, version: int) -> tuple[tuple[str, type, bool], ...]:
    """The fields :meth:`Record.validate` checks the types of, in order:
    (name, type, whether it may be null)."""
    checked = {*_hashed_names(kind, version), "hash", "seal"}
    return tuple((name, expected, name in _NULLABLE) for name, expected in _TYPES.items() if name in checked)


_HEX_DIGITS = "0123456789abcdef"


def _is_hex64(text: str) -> bool:
    """64 lower-case hex digits, nothing else (a trailing newline included,
    which a ``$`` pattern lets through). Stripping the digits leaves
    nothing only when every character is one: faster than a pattern, and
    checked three times per record."""
    return len(text) == 64 and not text.strip(_HEX_DIGITS)


# ISO 8601 local time with milliseconds and the UTC offset the device had.
_DEVICE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}\Z")
# A dossier code as a receipt's barcode or QR code gives it: visible characters, no spaces.
_DOSSIER_CODE = re.compile(rf"^[^\s\x00-\x1f\x7f]{{1,{MAX_DOSSIER_CODE_CHARS}}}\Z")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# Standard base64, padded.
# A campaign's or questionnaire's id: 1 to 64 characters (as sync.survey keeps them), no control characters.
_SURVEY_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,64}\Z")
_BOX = re.compile(r"^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


class RecordError(ValueError):
    """A record is malformed: a missing or wrongly typed field."""


@dataclass(frozen=True)
class Record:
    """One entry of a device's journal. Fields that do not belong to the
    record's kind are ``None``."""

    kind: str
    uuid: str
    device_id: str
    seq: int
    prev_hash: str
    device_time: str
    monotonic_ns: int
    boot_id: str
    app_version: str
    simulated: bool = False
    # rating
    officer_id: str | None = None
    counter_id: str | None = None
    score: int | None = None
    scale: int | None = None
    level: str | None = None
    burst: bool | None = None
    comment_token: str | None = None
    dossier_code: str | None = None
    """Version 3: the dossier (mã hồ sơ) whose hand-over prompted the rating, or None."""
    # details (``rating_uuid`` also on correction)
    rating_uuid: str | None = None
    reasons: tuple[str, ...] | None = None
    callback_phone: str | None = None
    """Formats 1 and 2: the call-back number in clear, or None."""
    callback_box: str | None = None
    """Format 3: the call-back number encrypted (base64), or None; its key is
    sealed to the server and sent outside the chain."""
    callback_consent: bool | None = None
    # survey (version 4)
    campaign_id: str | None = None
    questionnaire_id: str | None = None
    questionnaire_version: int | None = None
    answers: str | None = None
    """The answers' canonical text (:func:`sync.survey.answers_text`): a JSON
    object from question key to value, keys sorted, no spaces."""
    complete: bool | None = None
    """Every required question was answered."""
    hash: str = ""
    v: int = FORMAT_VERSION
    seal: str = ""
    """Version 2: the forward-secure seal (64 hex digits), or empty when unsealed."""

    def hashed_fields(self) -> dict[str, Any]:
        """The fields covered by the hash, as plain JSON values."""
        out: dict[str, Any] = {}
        for name in _hashed_names(self.kind, self.v):
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The record as sent over the wire: the hashed fields plus ``hash``
        (and, from version 2, ``seal``)."""
        out = self.hashed_fields()
        out["hash"] = self.hash
        if self.v >= SEALED_FROM_VERSION:
            out["seal"] = self.seal
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Build a record from its wire form, checking every field's type.

        Unknown fields, missing fields and wrong types raise :class:`RecordError`
        naming the field.
        """
        if not isinstance(data, dict):
            raise RecordError("record: must be an object")
        kind = data.get("kind")
        if kind not in KIND_FIELDS:
            raise RecordError(f"kind: must be one of {sorted(KIND_FIELDS)}")
        version = data.get("v")
        known = type(version) is int and version in FORMAT_VERSIONS
        sealed = type(version) is int and version >= SEALED_FROM_VERSION
        # An unknown version is refused by validate(); until then read it as the newest.
        expected = _wire_names(kind, version if known else FORMAT_VERSION, sealed)
        present = data.keys()
        if present != expected:
            unknown = sorted(present - expected)
            if unknown:
                raise RecordError(f"{unknown[0]}: unknown field for a {kind} record")
            raise RecordError(f"{sorted(expected - present)[0]}: missing")
        record = cls.from_checked_dict(data)
        record.validate()
        return record

    @classmethod
    def from_checked_dict(cls, data: dict[str, Any]) -> Record:
        """Build a record from a wire form whose every field has been checked
        already, as :meth:`from_dict` would (the server checks a rating's in
        compiled code): nothing is checked here.

        Built without running ``__init__`` (a frozen dataclass sets each of
        its thirty-odd fields through ``object.__setattr__``): the server
        builds one per record it receives. The defaults first, then the
        wire's values."""
        values = _DEFAULTS | data
        if values["kind"] == KIND_DETAILS and isinstance(values["reasons"], list):
            values["reasons"] = tuple(values["reasons"])
        record = cls.__new__(cls)
        object.__setattr__(record, "__dict__", values)
        return record

    def validate(self) -> None:
        """Check types and formats; raise :class:`RecordError` on the first problem."""
        own = kind_fields(self.kind, self.v if self.v in FORMAT_VERSIONS else FORMAT_VERSION)
        if self.kind == KIND_DETAILS:
            # Not hashed in this version, so never silently carried (a number
            # in clear in format 3, a box in formats 1 and 2).
            for name in ("callback_phone", "callback_box"):
                if name not in own and getattr(self, name) is not None:
                    raise RecordError(f"{name}: not a field of a format {self.v} details record")
        values = self.__dict__
        for name, expected, nullable in _typed_fields(self.kind, self.v if self.v in FORMAT_VERSIONS
                                                      else FORMAT_VERSION):
            value = values[name]
            # The exact type is the common case (bool is not int here).
            if type(value) is expected or (nullable and value is None):
                continue
            # bool is an int in Python; keep them apart on the wire.
            if expected is int and isinstance(value, bool):
                raise RecordError(f"{name}: must be an integer")
            if not isinstance(value, expected):
                raise RecordError(f"{name}: must be {_TYPE_NAMES[expected]}")
        if self.v not in FORMAT_VERSIONS:
            raise RecordError(f"v: unsupported format version {self.v!r}")
        if self.seal and (self.v < SEALED_FROM_VERSION or not _is_hex64(self.seal)):
            raise RecordError("seal: must be empty or 64 hex digits, and only from format version 2")
        if not _UUID.match(self.uuid):
            raise RecordError("uuid: must be a lower-case UUID")
        if self.seq < 1:
            raise RecordError("seq: must be 1 or more")
        if not _is_hex64(self.prev_hash):
            raise RecordError("prev_hash: must be 64 hex digits")
        if self.hash and not _is_hex64(self.hash):
            raise RecordError("hash: must be 64 hex digits")
        if not _DEVICE_TIME.match(self.device_time):
            raise RecordError("device_time: must look like 2026-01-31T08:00:00.000+07:00")
        if self.kind == KIND_RATING:
            if self.scale not in (3, 4, 5):
                raise RecordError("scale: must be 3, 4 or 5")
            if not 1 <= self.score <= self.scale:
                raise RecordError("score: must be between 1 and the scale")
            if self.dossier_code is not None and not _DOSSIER_CODE.match(self.dossier_code):
                raise RecordError(
                    f"dossier_code: must be 1 to {MAX_DOSSIER_CODE_CHARS} printable characters without spaces")
        elif self.kind == KIND_CORRECTION:
            if not _UUID.match(self.rating_uuid):
                raise RecordError("rating_uuid: must be a lower-case UUID")
            if self.scale not in (3, 4, 5):
                raise RecordError("scale: must be 3, 4 or 5")
            if not 1 <= self.score <= self.scale:
                raise RecordError("score: must be between 1 and the scale")
        elif self.kind == KIND_SURVEY:
            _check_survey(self)
        else:
            if not _UUID.match(self.rating_uuid):
                raise RecordError("rating_uuid: must be a lower-case UUID")
            if not all(isinstance(r, str) for r in self.reasons):
                raise RecordError("reasons: must be a list of strings")
            if self.callback_phone is not None and not self.callback_consent:
                raise RecordError("callback_consent: a phone number needs the citizen's consent")
            if self.callback_box is not None:
                if not self.callback_consent:
                    raise RecordError("callback_consent: a phone number needs the citizen's consent")
                if len(self.callback_box) > MAX_CALLBACK_BOX_CHARS or not _BOX.match(self.callback_box):
                    raise RecordError(f"callback_box: must be base64, at most {MAX_CALLBACK_BOX_CHARS} characters")


def _check_survey(record: Record) -> None:
    """A survey record's own rules: ids as the campaign's, a version, and
    answers in their canonical text (so the hash is one text's)."""
    for name in ("campaign_id", "questionnaire_id"):
        if not _SURVEY_ID.match(getattr(record, name)):
            raise RecordError(f"{name}: must be 1 to 64 characters, none of them a control character")
    if record.questionnaire_version < 1:
        raise RecordError("questionnaire_version: must be 1 or more")
    if len(record.answers) > MAX_SURVEY_ANSWERS_CHARS:
        raise RecordError(f"answers: longer than {MAX_SURVEY_ANSWERS_CHARS} characters")
    try:
        canonical = answers_text(answers_of_text(record.answers))
    except SurveyError:
        raise RecordError("answers: must be a JSON object") from None
    if canonical != record.answers:
        raise RecordError("answers: must be in the canonical form (sorted keys, no spaces)")


_TYPES: dict[str, type] = {
    "v": int,
    "kind": str,
    "uuid": str,
    "device_id": str,
    "seq": int,
    "prev_hash": str,
    "device_time": str,
    "monotonic_ns": int,
    "boot_id": str,
    "app_version": str,
    "simulated": bool,
    "officer_id": str,
    "counter_id": str,
    "score": int,
    "scale": int,
    "level": str,
    "burst": bool,
    "comment_token": str,
    "dossier_code": str,
    "rating_uuid": str,
    "reasons": tuple,
    "callback_phone": str,
    "callback_box": str,
    "callback_consent": bool,
    "campaign_id": str,
    "questionnaire_id": str,
    "questionnaire_version": int,
    "answers": str,
    "complete": bool,
    "hash": str,
    "seal": str,
}
_NULLABLE = {"callback_phone", "callback_box", "dossier_code"}
# Every field's default (the fields a record of any kind leaves as they are).
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Record) if f.default is not MISSING}
_TYPE_NAMES = {int: "an integer", str: "a string", bool: "true or false", tuple: "a list"}


def canonical_bytes(record: Record) -> bytes:
    """The canonical encoding that is hashed: compact JSON, keys sorted, UTF-8.

    Only integers, strings, booleans, null and lists of strings occur, so the
    encoding is the same in every JSON library that sorts keys.
    """
    return json.dumps(
        record.hashed_fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def compute_hash(record: Record) -> str:
    """SHA-256 of the record's canonical encoding, as 64 hex digits."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def seal(record: Record) -> Record:
    """Return the record with its ``hash`` filled in, after validating it.

    (This fills the hash only; the forward-secure seal of :mod:`sync.seal`
    is added by the tablet's journal, with its key, on top of the hash.)"""
    unsealed = _replace(record, hash="")
    unsealed.validate()
    return _replace(unsealed, hash=compute_hash(unsealed))


def _replace(record: Record, **changes: Any) -> Record:
    # A shallow copy with a field or two set: no __init__ to run again (a
    # record is sealed at every tap, and checked at every verification).
    copied = copy.copy(record)
    for name, value in changes.items():
        object.__setattr__(copied, name, value)
    return copied


@dataclass(frozen=True)
class ChainFinding:
    """Something wrong at one place in a device's chain."""

    seq: int
    problem: str
    """One of ``gap``, ``bad_hash``, ``broken_link``, ``duplicate_seq``, ``malformed``."""
    detail: str = ""


def verify_chain(
    records: Iterable[Record],
    *,
    start_seq: int = 1,
    start_prev_hash: str = GENESIS_HASH,
) -> list[ChainFinding]:
    """Check a device's records, in sequence order, and return what is wrong.

    An empty list means the chain is intact. ``start_seq`` and
    ``start_prev_hash`` let a verifier continue from a point it already trusts
    (the server continues from the last record it accepted).
    """
    findings: list[ChainFinding] = []
    expected_seq = start_seq
    expected_prev = start_prev_hash
    for record in records:
        if record.seq < expected_seq:
            findings.append(
                ChainFinding(record.seq, "duplicate_seq", f"expected {expected_seq}")
            )
            continue
        if record.seq > expected_seq:
            findings.append(
                ChainFinding(
                    expected_seq,
                    "gap",
                    f"records {expected_seq}..{record.seq - 1} are missing",
                )
            )
        try:
            record.validate()
            actual = compute_hash(_replace(record, hash=""))
        except RecordError as exc:
            findings.append(ChainFinding(record.seq, "malformed", str(exc)))
            actual = None
        if actual is not None and actual != record.hash:
            findings.append(ChainFinding(record.seq, "bad_hash", "content does not match its hash"))
        if record.seq == expected_seq and record.prev_hash != expected_prev:
            findings.append(
                ChainFinding(record.seq, "broken_link", "prev_hash does not match the record before")
            )
        expected_seq = record.seq + 1
        expected_prev = record.hash
    return findings
