"""What to do with each record of a batch: the idempotency, sequence and
chain rules, free of HTTP and databases.

:func:`plan_batch` gets the records as they came over the wire, the device's
chain head (the last record the server accepted in sequence) and what is
already stored under the batch's UUIDs and sequence numbers. It returns one
:class:`Outcome` per record, in the request's order, the findings to note on
the device, and the new head. The caller stores what the plan says, in one
transaction.

The rules:

* A UUID already stored with the same content is acknowledged again
  (``duplicate``) and not stored twice; with different content it is refused
  (``conflict``, 409) and kept aside as evidence.
* A new record at a place in the chain that another record already holds is a
  ``conflict`` too (a forged or rewritten record).
* A new record after the head is checked as :func:`sync.record.verify_chain` would
  from the head: a gap (a deleted record), a bad hash (an edited record) or a
  broken link (a forged or rewritten one) becomes a finding on the device, and
  the record is still kept, flagged — a tablet's later, honest ratings must not
  be lost because an earlier one was tampered with.
* A new record that fills a hole left behind earlier is kept, flagged ``late``.
  It must link to the record before it *and* the record after it must link
  to it (when the server holds them): a record made up after the fact to
  plug a gap cannot match the hash its honest successor was chained to, so
  it is kept as evidence, flagged ``broken_link``, and noted as a finding.
  A filler that matches on both sides is listed in :attr:`IngestPlan.filled`,
  so the caller can mark the gap it closes as resolved.
* A record whose time cannot be placed on the server's clock (it would fall
  outside the calendar) is ``rejected`` like a malformed one.
* A malformed record, or one of another device, is ``rejected`` (422).
* A UUID belongs to the device that made it. A new record whose UUID another
  device already holds (copied from a thank-you screen's QR code, say) is
  not a duplicate or a conflict of that device's record: it is kept,
  flagged ``uuid_reused``, and both devices get a finding naming the other,
  so a tablet can neither claim nor block another's rating.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from server.clock import clock_is_off, parse_device_time
from server.rating_check import checked_rating
from sync.protocol import MAX_FIELD_CHARS, MAX_INT, RecordStatus
from sync.record import (
    GENESIS_HASH,
    KIND_RATING,
    MAX_SURVEY_ANSWERS_CHARS,
    ChainFinding,
    Record,
    RecordError,
    compute_hash,
)

__all__ = [
    "ChainHead",
    "StoredRef",
    "Finding",
    "Outcome",
    "IngestPlan",
    "content_digest",
    "item_text",
    "item_place",
    "check_wire_limits",
    "record_of_item",
    "plan_batch",
    "final_flags",
]

# Flags a stored record can carry because of where it sits in the chain.
FLAG_AFTER_GAP = "after_gap"
FLAG_BAD_HASH = "bad_hash"
FLAG_BROKEN_LINK = "broken_link"
FLAG_LATE = "late"
FLAG_TIME_REGRESSION = "time_regression"
FLAG_UUID_REUSED = "uuid_reused"
# Flags a stored record can carry because of what it says itself.
FLAG_CLOCK_OFF = "clock_off"
FLAG_BURST = "burst"
FLAG_SIMULATED = "simulated"

_FLAG_FOR_PROBLEM = {
    "gap": FLAG_AFTER_GAP,
    "bad_hash": FLAG_BAD_HASH,
    "broken_link": FLAG_BROKEN_LINK,
    "malformed": FLAG_BAD_HASH,
}


@dataclass(frozen=True)
class ChainHead:
    """The last record accepted in sequence from a device."""

    seq: int = 0
    hash: str = GENESIS_HASH
    boot_id: str | None = None
    monotonic_ns: int | None = None


@dataclass(frozen=True)
class StoredRef:
    """What the server already holds at a UUID or a sequence number."""

    device_id: str
    seq: int
    uuid: str
    hash: str
    digest: str
    prev_hash: str
    """Its link to the record before: a late record landing just before it must match it."""


@dataclass(frozen=True)
class Finding:
    """Something wrong noticed on a device: a ``problem`` code at a place in its chain."""

    seq: int | None
    problem: str
    detail: str
    uuid: str | None = None


@dataclass
class Outcome:
    """What happens to one record of the batch."""

    index: int
    status: str
    uuid: str | None = None
    seq: int | None = None
    error: str | None = None
    detail: str = ""
    flags: tuple[str, ...] = ()
    record: Record | None = None
    raw: Any = None
    canonical: bytes = b""
    """The record's canonical encoding (what its hash and seal cover), for new records."""
    placed: Any = None
    """What the caller's ``place`` returned for the record (its corrected time)."""

    @property
    def http_status(self) -> int:
        return RecordStatus.HTTP[self.status]


@dataclass
class IngestPlan:
    """The decisions for a whole batch."""

    outcomes: list[Outcome]
    findings: list[Finding] = field(default_factory=list)
    head: ChainHead = field(default_factory=ChainHead)
    filled: list[int] = field(default_factory=list)
    """Sequence numbers of late records that link to the records on both
    sides of them: each closes (part of) a gap found earlier."""
    foreign_findings: list[tuple[str, Finding]] = field(default_factory=list)
    """Findings to note on other devices, each with the device's id (a UUID
    they hold was used again by this one)."""

    @cached_property
    def to_store(self) -> list[Outcome]:
        """Outcomes whose record is new and kept, in sequence order (worked
        out once: a plan's outcomes keep their status once planned)."""
        return sorted(
            (o for o in self.outcomes if o.status == RecordStatus.STORED),
            key=lambda o: o.seq or 0,
        )

    @property
    def conflicts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == RecordStatus.CONFLICT]


# Built once: json.dumps with options builds a new encoder on every call.
_WIRE_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ITEM_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def wire_text(record: Record) -> str:
    """A record's whole wire form (``hash`` included) as canonical JSON."""
    return _WIRE_ENCODER.encode(record.to_dict())


def item_text(item: Any) -> str:
    """One wire item of a batch as compact JSON, keys sorted, ASCII only:
    what a batch's records digest was made of by version 0.1 (still
    recognised: :func:`server.batches.records_digest`)."""
    return _ITEM_ENCODER.encode(item)


def fast_canonical(record: Record) -> bytes:
    """The record's canonical encoding (:func:`sync.record.canonical_bytes`),
    made by orjson, several times faster than the json module.

    For every value the wire admits the two encode alike (sorted keys,
    compact, UTF-8, the same escapes: tests/test_ingest_encoding.py checks
    it with generated values); and nothing rests on it alone: a hash or a
    seal that does not match this encoding is checked again against the
    contract's own (:func:`hash_matches`, :mod:`server.seals`)."""
    return orjson.dumps(record.hashed_fields(), option=orjson.OPT_SORT_KEYS)


def item_canonical(item: dict[str, Any]) -> bytes:
    """:func:`fast_canonical` of a record straight from its wire item, once
    :meth:`sync.record.Record.from_dict` has accepted it: the item then holds
    exactly the hashed fields, with their very values, besides ``hash`` and
    ``seal``."""
    hashed = dict(item)
    del hashed["hash"]
    hashed.pop("seal", None)
    return orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)


def hash_matches(record: Record, canonical: bytes) -> bool:
    """Whether the record's ``hash`` is the SHA-256 of its content."""
    if hashlib.sha256(canonical).hexdigest() == record.hash:
        return True
    return compute_hash(record) == record.hash


def content_digest(record: Record, canonical: bytes | None = None) -> str:
    """SHA-256 of everything a record says: its content, ``hash`` and
    ``seal`` (``canonical``: its :func:`fast_canonical`, when already made).

    Two records with the same claimed ``hash`` but an edited field differ
    here, so an edit that did not recompute the hash is still a different
    content. Only ever compared with digests made by this same function."""
    if canonical is None:
        canonical = fast_canonical(record)
    return hashlib.sha256(b"%s\n%s\n%s" % (canonical, record.hash.encode("ascii"),
                                             record.seal.encode("ascii"))).hexdigest()


def check_wire_limits(value: Any, name: str = "record") -> None:
    """Refuse values no honest tablet sends and no database column takes:
    over-long strings, text that is not valid Unicode, integers beyond 64
    bits, non-finite numbers and deep nesting. Raises :class:`RecordError`."""
    _check(value, name, depth=0)


def _check(value: Any, name: str, depth: int) -> None:
    # Fast path for the flat record every honest tablet sends.
    if depth == 0 and isinstance(value, dict):
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if len(item) <= MAX_FIELD_CHARS and item.isascii() and "\x00" not in item:
                    continue
            elif kind is bool or item is None or (kind is int and -MAX_INT <= item <= MAX_INT):
                continue
            _check(key, "record", 1)
            _check(item, key if isinstance(key, str) else "record", 1)
        return
    if depth > 3:
        raise RecordError(f"{name}: nested too deeply")
    if isinstance(value, str):
        # A survey record's answers (format 4) are one text of many answers;
        # the record checks their own limit and form.
        limit = MAX_SURVEY_ANSWERS_CHARS if depth == 1 and name == "answers" else MAX_FIELD_CHARS
        if len(value) > limit:
            raise RecordError(f"{name}: longer than {limit} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError(f"{name}: not valid Unicode text") from None
        if "\x00" in value:
            raise RecordError(f"{name}: contains a NUL character")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise RecordError(f"{name}: integer out of range")
    elif isinstance(value, float):
        raise RecordError(f"{name}: must not be a fractional number")
    elif isinstance(value, list):
        if len(value) > 100:
            raise RecordError(f"{name}: more than 100 items")
        for i, item in enumerate(value):
            _check(item, f"{name}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, name, depth + 1)
            _check(item, key if depth == 0 else f"{name}.{key}", depth + 1)
    else:
        raise RecordError(f"{name}: unsupported value")


def item_place(raw: Any) -> tuple[str | None, int | None]:
    """The UUID and sequence number an answer names for a wire item: the
    item's own when they are usable, else None. Every outcome of
    :func:`plan_batch` carries exactly these (a parsed record's UUID and
    sequence number are its item's), so an answer can be rebuilt from the
    batch and the outcomes' other fields."""
    uuid = raw.get("uuid") if isinstance(raw, dict) else None
    seq = raw.get("seq") if isinstance(raw, dict) else None
    uuid = uuid if isinstance(uuid, str) and len(uuid) <= 64 else None
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= MAX_INT else None
    return uuid, seq


def record_of_item(raw: Any) -> Record:
    """The record a wire item holds, checked by the contract
    (:meth:`sync.record.Record.from_dict`), within the wire's limits and
    with a real calendar date. Raises :class:`RecordError` (or ``ValueError``
    / ``TypeError``) naming the first problem."""
    check_wire_limits(raw)
    record = Record.from_dict(raw)
    if record.seq > MAX_INT or record.monotonic_ns < 0:
        raise RecordError("seq or monotonic_ns: out of range")
    # Record.validate checks the format; a real calendar date is checked here
    # so the time correction never meets an impossible one.
    try:
        parse_device_time(record.device_time)
    except ValueError as exc:
        raise RecordError(f"device_time: {exc}") from None
    return record


def _parse(index: int, raw: Any, device_id: str) -> tuple[Outcome | None, Record | None, Finding | None]:
    """Turn one wire item into a record, or into a rejection."""
    # A rating, the common case, is checked in compiled code; anything it
    # cannot vouch for goes through the contract's checks, which decide.
    record = checked_rating(raw)
    if record is None:
        try:
            record = record_of_item(raw)
        except (RecordError, ValueError, TypeError) as exc:
            uuid, seq = item_place(raw)
            return Outcome(index, RecordStatus.REJECTED, uuid, seq, "malformed", str(exc), raw=raw), None, None
    if record.device_id != device_id:
        finding = Finding(record.seq, "foreign_record", f"record names device {record.device_id}", record.uuid)
        outcome = Outcome(
            index, RecordStatus.REJECTED, record.uuid, record.seq, "wrong_device",
            "record belongs to another device", raw=raw,
        )
        return outcome, None, finding
    return None, record, None


def _link_problems(record: Record, canonical: bytes, expected_seq: int, expected_prev: str) -> list[ChainFinding]:
    """What :func:`sync.record.verify_chain` says of one parsed record placed
    after ``expected_seq - 1`` (whose hash is ``expected_prev``): a gap
    before it, a content that does not match its hash, a broken link. The
    record is valid already (it was parsed), and its canonical encoding is
    made once for the hash and the seal."""
    if record.seq == expected_seq and record.prev_hash == expected_prev \
            and hashlib.sha256(canonical).hexdigest() == record.hash:
        return []  # the common case: the next record, intact
    problems = []
    if record.seq > expected_seq:
        problems.append(ChainFinding(expected_seq, "gap", f"records {expected_seq}..{record.seq - 1} are missing"))
    if not hash_matches(record, canonical):
        problems.append(ChainFinding(record.seq, "bad_hash", "content does not match its hash"))
    if record.seq == expected_seq and record.prev_hash != expected_prev:
        problems.append(ChainFinding(record.seq, "broken_link", "prev_hash does not match the record before"))
    return problems


def plan_batch(
    device_id: str,
    items: list[Any],
    head: ChainHead,
    by_uuid: Mapping[str, StoredRef],
    by_seq: Mapping[int, StoredRef],
    place: Callable[[Record], Any] | None = None,
    foreign: Mapping[str, str] | None = None,
) -> IngestPlan:
    """Decide what to do with every record of a batch.

    ``by_uuid`` must hold what this device has stored under the batch's
    UUIDs, and ``foreign`` which other device holds any of them (by UUID);
    ``by_seq`` this device's stored records at the batch's sequence
    numbers and the ones just before and after them. ``place``, when
    given, is called on every new record before it is accepted (the caller
    works out its corrected time there); if it raises ``OverflowError`` or
    ``ValueError`` the record is rejected, and what it returns is kept in
    :attr:`Outcome.placed`.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    findings: list[Finding] = []
    foreign_findings: list[tuple[str, Finding]] = []
    foreign = foreign or {}
    filled: list[int] = []
    parsed: list[tuple[int, Record]] = []
    for index, raw in enumerate(items):
        outcome, record, finding = _parse(index, raw, device_id)
        if finding is not None:
            findings.append(finding)
        if outcome is not None:
            outcomes[index] = outcome
        else:
            parsed.append((index, record))

    known_uuid = dict(by_uuid)
    known_seq = dict(by_seq)
    fresh: dict[str, tuple[Record, bytes]] = {}  # this batch's new records, by UUID, with their encoding
    # The head as it moves along the batch (a ChainHead is made once, at the end).
    head_seq, head_hash, head_boot, head_mono = head.seq, head.hash, head.boot_id, head.monotonic_ns
    # Sequence order, so the chain is checked the way it was written whatever
    # order the batch listed its records in.
    parsed.sort(key=lambda pair: pair[1].seq)
    for index, record in parsed:
        canonical = item_canonical(items[index])
        stored = known_uuid.get(record.uuid)
        if stored is not None:
            # Digests are made only for a UUID seen before (rare): a stored
            # one's came with it, one of this batch's is made now.
            earlier = fresh.get(record.uuid)
            stored_digest = content_digest(*earlier) if earlier is not None else stored.digest
            if stored_digest == content_digest(record, canonical):
                outcomes[index] = Outcome(index, RecordStatus.DUPLICATE, record.uuid, record.seq,
                                          detail="already stored")
            else:
                outcomes[index] = Outcome(
                    index, RecordStatus.CONFLICT, record.uuid, record.seq, "conflict",
                    "this UUID is stored with different content", record=record,
                )
                findings.append(Finding(record.seq, "conflict",
                                        "a record was re-sent with the same UUID and different content",
                                        record.uuid))
            continue
        taken = known_seq.get(record.seq)
        if taken is not None:
            outcomes[index] = Outcome(
                index, RecordStatus.CONFLICT, record.uuid, record.seq, "duplicate_seq",
                f"sequence number {record.seq} already holds another record", record=record,
            )
            findings.append(Finding(record.seq, "duplicate_seq",
                                    f"a second record claims sequence number {record.seq}", record.uuid))
            continue

        placed = None
        if place is not None:
            try:
                placed = place(record)
            except (OverflowError, ValueError) as exc:
                # Refused before the chain is looked at, so the head does not
                # move past a record that is not kept.
                outcomes[index] = Outcome(
                    index, RecordStatus.REJECTED, record.uuid, record.seq, "malformed",
                    f"device_time: cannot be placed on the server's clock ({exc})", raw=items[index],
                )
                continue

        flags: list[str] = []
        if record.seq > head_seq:
            chain = _link_problems(record, canonical, head_seq + 1, head_hash)
            previous_boot, previous_mono = head_boot, head_mono
            head_seq, head_hash, head_boot, head_mono = record.seq, record.hash, record.boot_id, record.monotonic_ns
        else:
            # Filling a hole left earlier: check the link to the record before it when we hold it.
            before = known_seq.get(record.seq - 1)
            if record.seq == 1:
                chain = _link_problems(record, canonical, 1, GENESIS_HASH)
            elif before is not None:
                chain = _link_problems(record, canonical, record.seq, before.hash)
            else:
                # The record before is missing too: only its own hash can be checked.
                chain = _link_problems(record, canonical, record.seq, record.prev_hash)
            previous_boot = previous_mono = None
            flags.append(FLAG_LATE)
            # The record after it was chained to the real one: a filler made
            # up later links backwards fine but cannot match forwards.
            after = known_seq.get(record.seq + 1)
            if after is not None and after.prev_hash != record.hash:
                flags.append(FLAG_BROKEN_LINK)
                findings.append(Finding(
                    record.seq, "broken_link",
                    f"the stored record {record.seq + 1} does not link to this late record", record.uuid,
                ))
            elif after is not None and not chain and (record.seq == 1 or before is not None):
                filled.append(record.seq)
        for problem in chain:
            flags.append(_FLAG_FOR_PROBLEM.get(problem.problem, problem.problem))
            findings.append(Finding(problem.seq, problem.problem, problem.detail, record.uuid))
        if (
            previous_boot == record.boot_id
            and previous_mono is not None
            and record.monotonic_ns < previous_mono
        ):
            flags.append(FLAG_TIME_REGRESSION)
            findings.append(Finding(record.seq, "time_regression",
                                    "monotonic clock went backwards within one boot", record.uuid))
        other = foreign.get(record.uuid)
        if other is not None:
            flags.append(FLAG_UUID_REUSED)
            findings.append(Finding(record.seq, "uuid_reused",
                                    f"this UUID is also used by device {other}", record.uuid))
            foreign_findings.append((other, Finding(None, "uuid_reused",
                                                    f"a record of device {device_id} (seq {record.seq}) "
                                                    "uses a UUID of this device", record.uuid)))
        flag_tuple = tuple(sorted(set(flags))) if flags else ()
        outcomes[index] = Outcome(
            index, RecordStatus.STORED, record.uuid, record.seq,
            detail="stored" if not flag_tuple else "stored, flagged: " + ", ".join(flag_tuple),
            flags=flag_tuple, record=record, canonical=canonical, placed=placed,
        )
        ref = StoredRef(device_id, record.seq, record.uuid, record.hash, "", record.prev_hash)
        fresh[record.uuid] = (record, canonical)
        known_uuid[record.uuid] = ref
        known_seq[record.seq] = ref
    if head_seq != head.seq:
        head = ChainHead(head_seq, head_hash, head_boot, head_mono)
    return IngestPlan([o for o in outcomes if o is not None], findings, head, filled, foreign_findings)


def final_flags(plan: IngestPlan, clock_threshold_s: float) -> dict[int, tuple[str, ...]]:
    """The flags each record of the batch finally carries, by its index in the batch.

    A kept record carries the flags of its place in the chain (from the plan)
    and those of what it says itself: a corrected time further than
    ``clock_threshold_s`` from the device time, a press in a burst, a
    simulated rating. Worked out once, here, for both the stored row and
    the answer to the tablet, so the two always agree. Other records keep
    the plan's flags."""
    flags: dict[int, tuple[str, ...]] = {}
    for outcome in plan.outcomes:
        if outcome.status != RecordStatus.STORED:
            flags[outcome.index] = outcome.flags
            continue
        record = outcome.record
        extra = [FLAG_CLOCK_OFF] if (outcome.placed is not None
                                     and clock_is_off(outcome.placed.offset_s, clock_threshold_s)) else []
        if record.kind == KIND_RATING and record.burst:
            extra.append(FLAG_BURST)
        if record.simulated:
            extra.append(FLAG_SIMULATED)
        # Most records carry none: no set to build and sort for them.
        flags[outcome.index] = tuple(sorted({*outcome.flags, *extra})) if extra or outcome.flags else ()
    return flags
