"""A record as the ``records`` table holds it: one column per field, the
hashes as raw bytes, and the wire form rebuilt from them.

The table keeps each fact once (no copy of the wire text beside the
columns): the record the tablet sent is rebuilt by :func:`record_of_row`,
and since the wire rules admit only values the columns keep exactly
(lower-case UUIDs and hex hashes, integers within 64 bits, text without NUL),
it encodes to the very text that was verified, whose hash is ``hash``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column

from server.store import tables
from sync.record import COMMON_FIELDS, KIND_FIELDS, SEALED_FROM_VERSION, Record

__all__ = ["FIELD_COLUMNS", "columns_of_record", "record_of_row", "hash_bytes", "hash_text"]

# The columns a record's fields live in (every field of every kind, ``hash`` and ``seal``).
FIELD_COLUMNS: tuple[Column, ...] = tuple(
    tables.records.c[name]
    for name in dict.fromkeys(
        (*COMMON_FIELDS, *(f for fields in KIND_FIELDS.values() for f in fields), "hash", "seal"))
)


def hash_bytes(text: str) -> bytes:
    """A hex hash as stored."""
    return bytes.fromhex(text)


def hash_text(value: bytes) -> str:
    """A stored hash as the hex the wire and the chain use."""
    return bytes(value).hex()


def columns_of_record(record: Record) -> dict[str, Any]:
    """The columns holding a record's fields."""
    # A record's fields are the columns' names: a copy of its attributes with
    # the hashes as bytes and the reasons as JSON text (one dict copy: the
    # server builds a row per record it receives).
    row = dict(vars(record))
    row["prev_hash"] = hash_bytes(record.prev_hash)
    row["hash"] = hash_bytes(record.hash)
    row["seal"] = hash_bytes(record.seal) if record.seal else None
    if record.reasons is not None:
        row["reasons"] = json.dumps(list(record.reasons), ensure_ascii=False)
    return row


def record_of_row(row: Mapping[str, Any]) -> Record:
    """The record a row holds, as the tablet sent it (``row`` has at least
    the :data:`FIELD_COLUMNS`)."""
    kind = row["kind"]
    values = {name: row[name] for name in (*COMMON_FIELDS, *KIND_FIELDS.get(kind, ()))}
    values["prev_hash"] = hash_text(values["prev_hash"])
    if values.get("reasons") is not None:
        values["reasons"] = tuple(json.loads(values["reasons"]))
    # SQLite hands booleans back as 0/1 only when they were stored through
    # a Boolean column; a row read with plain SQL may carry ints.
    for name in ("simulated", "burst", "callback_consent", "complete"):
        if name in values and values[name] is not None:
            values[name] = bool(values[name])
    if values["v"] >= SEALED_FROM_VERSION:
        # Format 2 always carries ``seal`` on the wire, empty when unsealed.
        seal = row.get("seal")
        values["seal"] = hash_text(seal) if seal is not None else ""
    return Record(**values, hash=hash_text(row["hash"]))
