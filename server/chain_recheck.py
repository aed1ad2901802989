"""Verifying again a device's chain from the records the server stores.

The ingest verified every record as it arrived (:mod:`server.ingest`,
:mod:`server.seals`). What it stored can still be changed afterwards, by
anyone who can write to the server's database; :func:`recheck` walks the
stored records of one device in sequence order, each rebuilt as the tablet
sent it, and applies the chain's rules (:func:`sync.record.verify_chain`)
again: each record's ``hash`` is the SHA-256 of its canonical bytes, its
``prev_hash`` is the hash of the record before, and the sequence numbers run
on without a gap. It also checks that the seals are where the device's
sealing says they must be: on every record from the first sealed one, on
none before it.

A seal itself (the HMAC under the key of its sequence number) cannot be
checked again: the server keeps only the key of the record after the last
one it verified, never an older one (docs/sync.md, "Forward integrity"),
and that is the design, not a gap to close. It was checked on arrival, and
what it found is in the device's findings.

Speed: the walk reads the rows a batch at a time (memory stays flat) and
hashes each record's canonical bytes made straight from the row by orjson,
as the ingest does (:func:`server.ingest.fast_canonical`: the same bytes for
every value the wire admits). Only a record whose hash, link or place does
not match at once is rebuilt with :func:`server.store.records.record_of_row`
and judged by :func:`sync.record.verify_chain` itself, so every problem
reported is the contract's own. Records stored whole are therefore not
validated field by field again (the ingest refused malformed ones); a
changed field changes the hash, which is checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from server.seals import BAD_SEAL, UNSEALED_AFTER_PAIRING
from server.store.records import FIELD_COLUMNS, record_of_row
from sync.record import COMMON_FIELDS, GENESIS_HASH, RecordError, kind_fields, verify_chain

__all__ = ["LISTED_PROBLEMS", "MISSING", "ChainProblem", "Recheck", "recheck"]

LISTED_PROBLEMS = 10
"""How many problems a walk lists (it counts them all): the first says where the chain breaks."""
MISSING = "gap"
"""The problem of records missing where the walk expected one (as :func:`sync.record.verify_chain` names it)."""

_NAMES = tuple(column.name for column in FIELD_COLUMNS)
_AT = {name: index for index, name in enumerate(_NAMES)}
_KIND, _V, _SEQ, _HASH, _PREV, _SEAL = (_AT[name] for name in ("kind", "v", "seq", "hash", "prev_hash", "seal"))


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong at one place of a stored chain; ``noted_on_arrival``
    says whether the server noted the same (sequence, problem) when the
    records came (else: it arose in the stored records since)."""

    seq: int
    problem: str
    detail: str
    noted_on_arrival: bool = False


@dataclass
class Recheck:
    """What a walk verified (records ``first_seq`` to ``last_seq``, ``records``
    of them) and found: ``problem_count`` problems, the first
    :data:`LISTED_PROBLEMS` of them in ``problems``."""

    first_seq: int | None = None
    last_seq: int | None = None
    records: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    def note(self, problem: ChainProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < LISTED_PROBLEMS:
            self.problems.append(problem)


@dataclass(frozen=True)
class _Layout:
    """How to make a record's canonical bytes from a row, for one kind and
    format version: its hashed fields in sorted order (the canonical order),
    picked from the row in one call."""

    names: tuple[str, ...]
    pick: Callable[[Sequence[Any]], tuple[Any, ...]]
    prev_at: int
    reasons_at: int | None


_LAYOUTS: dict[tuple[Any, Any], _Layout | None] = {}


def _layout(kind: Any, version: Any) -> _Layout | None:
    key = (kind, version)
    if key not in _LAYOUTS:
        try:
            names = tuple(sorted(COMMON_FIELDS + kind_fields(kind, version)))
        except (RecordError, TypeError):
            _LAYOUTS[key] = None  # not a kind of that version: the contract's own check says why
        else:
            _LAYOUTS[key] = _Layout(names, itemgetter(*(_AT[name] for name in names)), names.index("prev_hash"),
                                    names.index("reasons") if "reasons" in names else None)
    return _LAYOUTS[key]


def _fast_hash(row: Sequence[Any]) -> bytes | None:
    """The SHA-256 of the row's record's canonical bytes, made from the
    columns (None when the row is not plainly a record: the slow path judges it)."""
    layout = _layout(row[_KIND], row[_V])
    if layout is None:
        return None
    try:
        values = list(layout.pick(row))
        values[layout.prev_at] = bytes(values[layout.prev_at]).hex()
        if layout.reasons_at is not None and values[layout.reasons_at] is not None:
            values[layout.reasons_at] = json.loads(values[layout.reasons_at])
        # Inserted in sorted order already: no need for orjson to sort the keys.
        return hashlib.sha256(orjson.dumps(dict(zip(layout.names, values, strict=True)))).digest()
    except (TypeError, ValueError, orjson.JSONEncodeError):
        return None


def _contract_problems(row: Sequence[Any], expected_seq: int, expected_prev: str | None) -> list[tuple[int, str, str]]:
    """The chain's own verdict on one row placed after ``expected_seq - 1``
    (whose hash is ``expected_prev``; None: the link is not checked)."""
    try:
        record = record_of_row(dict(zip(_NAMES, row, strict=True)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        found = [(int(row[_SEQ]), "malformed", f"the stored row is not a record: {type(exc).__name__}")]
        if row[_SEQ] > expected_seq:
            found.insert(0, (expected_seq, MISSING, f"records {expected_seq}..{row[_SEQ] - 1} are missing"))
        return found
    start_prev = record.prev_hash if expected_prev is None else expected_prev
    return [(f.seq, f.problem, f.detail) for f in verify_chain([record], start_seq=expected_seq,
                                                                start_prev_hash=start_prev)]


def recheck(rows: Iterable[Sequence[Any]], *, start_seq: int = 1, start_prev_hash: str | None = GENESIS_HASH,
            end_seq: int | None = None, seal_first_seq: int | None = None,
            noted: Collection[tuple[int, str]] = frozenset()) -> Recheck:
    """Verify a device's stored records (``rows``: each the
    :data:`~server.store.records.FIELD_COLUMNS` in their order, in sequence
    order) from ``start_seq``, the first expected to link to
    ``start_prev_hash`` (None: its link is taken as it is, the record before
    is not read). ``end_seq``: the last record that must be there (a record
    missing before it, at the end, is a gap too). ``seal_first_seq``: the
    device's first sealed record (None: it never had a key, seals are not
    looked at). ``noted``: the (sequence, problem) pairs the server noted
    on arrival."""
    walk = Recheck()
    expected_seq = start_seq
    expected_prev = bytes.fromhex(start_prev_hash) if start_prev_hash is not None else None
    for row in rows:
        seq = row[_SEQ]
        if walk.first_seq is None:
            walk.first_seq = seq
        walk.last_seq = seq
        walk.records += 1
        stored_hash = row[_HASH]
        if not (seq == expected_seq and (expected_prev is None or row[_PREV] == expected_prev)
                and _fast_hash(row) == stored_hash):
            for at, problem, detail in _contract_problems(row, expected_seq, None if expected_prev is None
                                                          else expected_prev.hex()):
                walk.note(ChainProblem(at, problem, detail, (at, problem) in noted))
        if seal_first_seq is not None:
            sealed = row[_SEAL] is not None
            if seq >= seal_first_seq and not sealed:
                walk.note(ChainProblem(seq, UNSEALED_AFTER_PAIRING, "no seal on a record made after sealing began",
                                       (seq, UNSEALED_AFTER_PAIRING) in noted))
            elif seq < seal_first_seq and sealed:
                walk.note(ChainProblem(seq, BAD_SEAL, f"sealed before the device's first sealed record "
                                                      f"({seal_first_seq})", (seq, BAD_SEAL) in noted))
        expected_seq = seq + 1
        expected_prev = bytes(stored_hash)
    if end_seq is not None and expected_seq <= end_seq:
        walk.note(ChainProblem(expected_seq, MISSING, f"records {expected_seq}..{end_seq} are missing",
                               (expected_seq, MISSING) in noted))
    return walk
