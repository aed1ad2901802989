"""A rating's wire form checked in compiled code: the common case of a
batch, in a fraction of the time :meth:`sync.record.Record.from_dict` and
the ingest's wire limits take in Python.

The check is pydantic-core's, on a schema built from the contract's own
field lists (:func:`sync.record.wire_fields`), and it only ever says yes for
a record the contract's checks would accept as well: every field it checks
at least as strictly (ASCII digits where the contract takes any digit,
64 hex digits where it also takes an empty hash, a dossier code of printable
ASCII), and what it does not check (the score within the scale, a real
calendar date) is checked after it. Any doubt — another kind, another format
version, a field it does not like — answers None, and the record goes
through the contract's checks, which decide and word the refusal.
``tests/test_rating_check.py`` holds the two to that with generated records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from server.clock import parse_device_time
from sync.protocol import MAX_BATCH_RECORDS, MAX_FIELD_CHARS, MAX_INT
from sync.record import (
    KIND_RATING,
    MAX_DOSSIER_CODE_CHARS,
    SEALED_FROM_VERSION,
    Record,
    wire_fields,
)

__all__ = ["CHECKED_VERSIONS", "RATINGS_SCHEMA", "checked_rating", "checked_ratings_times"]

CHECKED_VERSIONS = (2, 3)
"""The rating formats checked here: the ones tablets write since sealing
began. Older ratings take the contract's checks."""

_HEX64 = "[0-9a-f]{64}"
# Patterns use ``$``, which in pydantic-core's regular expressions ends the
# text (no trailing newline slips through, unlike Python's ``$``).
_PATTERNS = {
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "prev_hash": f"^{_HEX64}$",
    "hash": f"^{_HEX64}$",
    "seal": f"^(?:{_HEX64})?$",
    "device_time": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}$",
    "dossier_code": f"^[!-~]{{1,{MAX_DOSSIER_CODE_CHARS}}}$",
}
# Any other text: no NUL (the wire limits refuse it; a string that is not
# valid Unicode never reaches the pattern, pydantic-core refuses it first).
_NO_NUL = r"^[^\x00]*$"
# Fields whose values are bounded tighter than any 64-bit integer.
_INT_RANGES = {"seq": (1, MAX_INT), "monotonic_ns": (0, MAX_INT), "score": (1, 5), "scale": (3, 5)}


def _field_schema(name: str, kind: type, nullable: bool, version: int) -> cs.CoreSchema:
    if name == "v":
        # Not a literal: 3.0 equals 3, and the contract takes integers only.
        schema: cs.CoreSchema = cs.int_schema(strict=True, ge=version, le=version)
    elif name == "kind":
        schema = cs.literal_schema([KIND_RATING])
    elif kind is int:
        low, high = _INT_RANGES.get(name, (-MAX_INT, MAX_INT))
        schema = cs.int_schema(strict=True, ge=low, le=high)
    elif kind is bool:
        schema = cs.bool_schema(strict=True)
    elif kind is str:
        schema = cs.str_schema(strict=True, max_length=MAX_FIELD_CHARS, pattern=_PATTERNS.get(name, _NO_NUL))
    else:
        raise TypeError(f"{name}: no compiled check for {kind.__name__}")
    return cs.nullable_schema(schema) if nullable else schema


def _rating_schema(version: int) -> cs.CoreSchema:
    fields = wire_fields(KIND_RATING, version, sealed=version >= SEALED_FROM_VERSION)
    return cs.typed_dict_schema(
        {name: cs.typed_dict_field(_field_schema(name, kind, nullable, version), required=True)
         for name, kind, nullable in fields},
        extra_behavior="forbid",
    )


_RATING = cs.tagged_union_schema({v: _rating_schema(v) for v in CHECKED_VERSIONS}, discriminator="v")
_CHECK = SchemaValidator(_RATING)
RATINGS_SCHEMA = cs.list_schema(_RATING, max_length=MAX_BATCH_RECORDS)
"""A batch's records, every one a rating the compiled check vouches for
(but for :func:`checked_ratings_times`' own checks): for reading them with
the envelope in one pass (:data:`server.schemas.RatingsBatchIn`)."""
_CHECK_ALL = SchemaValidator(RATINGS_SCHEMA)


def checked_rating(raw: Any) -> Record | None:
    """The rating record of the wire item ``raw`` when the compiled checks
    vouch for all of it (the record :meth:`Record.from_dict` would make);
    None when they cannot, and the contract's checks must decide."""
    if type(raw) is not dict or raw.get("kind") != KIND_RATING:
        return None
    try:
        _CHECK.validate_python(raw)
    except ValidationError:
        return None
    return Record.from_checked_dict(raw) if _device_time(raw) is not None else None


def checked_ratings_times(items: list[Any], *, schema_checked: bool = False) -> list[datetime] | None:
    """The device times of a batch's wire items when the compiled checks
    vouch for every one of them as a rating (checked in one call); None when
    they cannot vouch for one, and the contract's checks must decide.

    ``schema_checked``: the items were read with :data:`RATINGS_SCHEMA`
    already (with the envelope); only what the schema leaves is checked."""
    if not schema_checked:
        if any(type(raw) is not dict for raw in items):
            return None
        try:
            _CHECK_ALL.validate_python(items)
        except ValidationError:
            return None
    times = [_device_time(raw) for raw in items]
    return None if None in times else times


def _device_time(raw: dict[str, Any]) -> datetime | None:
    """After the schema, what it does not check: the score within the scale,
    and a device time with a real date and offset (parsed, or None)."""
    if raw["score"] > raw["scale"]:
        return None
    try:
        return parse_device_time(raw["device_time"])
    except ValueError:
        return None
