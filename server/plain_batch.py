"""The common batch in one pass: ratings of this device, next in its chain,
intact, rightly sealed, never seen before and placed on the server's clock.

Almost every batch a tablet sends is such a batch, and for it the general
rules (:func:`server.ingest.plan_batch`, :func:`server.seals.check_seals`,
:func:`server.ingest.final_flags`) come to one answer: every record stored,
none with a finding, each flagged only for what it says itself (a clock off,
a burst, a simulation). :func:`plan_plain` reaches that answer with one loop
over the wire items and none of the plan's objects per record, and builds
each record's ``records`` row on the way (the same values
:func:`server.store.batches.record_row` gives).

It decides nothing of its own. The moment a record is anything else — another
kind or format, a field the compiled check does not vouch for, a gap, a
broken link, a hash or seal that does not match the fast encoding, a UUID
twice in the batch, a dossier code (which the corrections' rules must look
up), a clock going backwards, a time off the calendar — it raises
:class:`NotPlain`, and the general rules decide the whole batch as they
always did. Whether a UUID or a sequence number was stored before is not
looked up here: the rows' store finds out as they go in
(:class:`server.store.batches.RecordStager`), and the batch is then handed
over the same way. ``tests/test_plain_batch.py``
holds the two to the same rows, answers and device state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from hmac import compare_digest
from operator import itemgetter
from typing import Any

import orjson

from server.clock import clock_is_off, utc_text
from server.ingest import FLAG_BURST, FLAG_CLOCK_OFF, FLAG_SIMULATED, ChainHead
from server.rating_check import checked_ratings_times
from server.seals import SealKey
from sync.protocol import RecordStatus
from sync.record import KIND_RATING, Record, wire_fields
from sync.seal import MAX_STEPS, key_after, next_key, seal_digest

__all__ = ["NotPlain", "PlainBatch", "PLAIN_ROW_COLUMNS", "plain_times", "plan_plain"]

Place = Callable[[datetime, str, int], tuple[datetime, str, float]]
"""Works out a record's corrected time (in UTC), its method and the offset
from its device time, boot and monotonic reading (:func:`server.clock.corrected`)."""

_STORED = RecordStatus.STORED
_STORED_HTTP = RecordStatus.HTTP[RecordStatus.STORED]
# A row is made of the rating's own fields as the wire has them, then the
# values the server works out. The columns of every other field are left out:
# they have no default, so they hold NULL, as the record holds None (a plain
# rating has no dossier code). The device and the batch's receipt, the same
# in every row, are the store's to add (:class:`server.store.batches.RecordStager`).
_WIRE_PART = tuple(name for name, _kind, _nullable in wire_fields(KIND_RATING, 2, sealed=True)
                   if name not in ("device_id", "prev_hash", "hash", "seal"))
_WORKED_OUT = ("prev_hash", "hash", "seal", "corrected_time", "time_method", "clock_offset_s", "flags")
PLAIN_ROW_COLUMNS = (*_WIRE_PART, *_WORKED_OUT)
"""The columns of the rows :func:`plan_plain` makes, in their order: the
``records`` columns a plain rating has a value in, but for ``device_id``
and ``receipt_id``."""
_wire_part = itemgetter(*_WIRE_PART)
_SORTED = orjson.OPT_SORT_KEYS


class NotPlain(Exception):
    """The batch needs the general rules (a record of it is not plain)."""


@dataclass
class PlainBatch:
    """What a plain batch comes to."""

    stored: int
    """How many records it stores (all of them)."""
    results: list[dict[str, Any]]
    """One answer result per record, in the batch's order (all ``stored``)."""
    head: ChainHead
    seal_key: SealKey | None
    """The sealing key to keep (None: the device has none)."""
    low: list[Record] = field(default_factory=list)
    """The records, as :class:`sync.record.Record`, of ratings at a level
    that may open a follow-up case (:func:`server.cases.open_cases_for_batch`)."""


def plain_times(items: list[Any], *, schema_checked: bool = False) -> list[datetime] | None:
    """The items' device times when the compiled checks vouch for every one
    of them as a rating (:func:`server.rating_check.checked_ratings_times`):
    the first condition of a plain batch, known before anything is written.
    None for an empty batch or one they cannot vouch for."""
    return checked_ratings_times(items, schema_checked=schema_checked) if items else None


def plan_plain(
    device_id: str,
    items: list[Any],
    device_times: list[datetime],
    head: ChainHead,
    key: SealKey | None,
    place: Place,
    clock_threshold_s: float,
    unsatisfied: Container[tuple[int, str]],
    store: Callable[[list[tuple[Any, ...]]], None],
    chunk: int = 250,
) -> PlainBatch:
    """Decide a batch whose every record is plain; raise :class:`NotPlain` otherwise.

    ``device_times`` are the items' own, as :func:`plain_times` gives them;
    ``key`` is the device's sealing key; ``unsatisfied`` the (scale, level)
    pairs a follow-up case may open for. The records' rows (values of
    :data:`PLAIN_ROW_COLUMNS`) are handed to ``store`` ``chunk`` at a time as
    they are made, so storing one chunk can go on beside making the next:
    when :class:`NotPlain` is raised, some may have been handed over already."""
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    rows: list[tuple[Any, ...]] = []
    results: list[dict[str, Any]] = []
    low: list[Record] = []
    seen: set[str] = set()
    expected_seq, prev_hash, boot_id, monotonic_ns = head.seq + 1, head.hash, head.boot_id, head.monotonic_ns
    cursor_seq, cursor_key = (key.seq, key.key) if key is not None else (0, b"")
    verified_seq: int | None = None
    verified_key = b""
    for index, item in enumerate(items):
        if item["device_id"] != device_id or item.get("dossier_code"):
            raise NotPlain
        seq, uuid, record_hash, seal = item["seq"], item["uuid"], item["hash"], item["seal"]
        if seq != expected_seq or item["prev_hash"] != prev_hash or uuid in seen:
            raise NotPlain
        hashed = dict(item)
        del hashed["hash"], hashed["seal"]
        canonical = orjson.dumps(hashed, option=_SORTED)
        if sha256(canonical).hexdigest() != record_hash:
            raise NotPlain
        if item["boot_id"] == boot_id and monotonic_ns is not None and item["monotonic_ns"] < monotonic_ns:
            raise NotPlain  # time_regression
        if key is not None:
            if seq < key.first_seq:
                if seal:
                    raise NotPlain  # sealed before sealing began
            else:
                if not seal or seq < cursor_seq or seq - cursor_seq > MAX_STEPS:
                    raise NotPlain
                if seq == cursor_seq + 1:
                    cursor_key = next_key(cursor_key)
                elif seq != cursor_seq:
                    cursor_key = key_after(cursor_key, seq - cursor_seq)
                cursor_seq = seq
                # The seal's form (64 hex digits) was checked with the rest.
                if not compare_digest(seal_digest(cursor_key, canonical + record_hash.encode("ascii")), fromhex(seal)):
                    raise NotPlain
                verified_seq, verified_key = seq, cursor_key
        try:
            when, method, offset_s = place(device_times[index], item["boot_id"], item["monotonic_ns"])
        except (OverflowError, ValueError):
            raise NotPlain from None
        flags: list[str] = []
        if clock_is_off(offset_s, clock_threshold_s):
            flags.append(FLAG_CLOCK_OFF)
        if item["burst"]:
            flags.append(FLAG_BURST)
        if item["simulated"]:
            flags.append(FLAG_SIMULATED)
        flags.sort()
        rows.append(_wire_part(item) + (fromhex(item["prev_hash"]), fromhex(record_hash),
                                         fromhex(seal) if seal else None, utc_text(when), method, offset_s,
                                         " ".join(flags)))
        if len(rows) == chunk:
            store(rows)
            rows = []
        results.append({"index": index, "uuid": uuid, "seq": seq, "status": _STORED, "http_status": _STORED_HTTP,
                        "error": None, "detail": "stored", "flags": flags})
        if (item["scale"], item["level"]) in unsatisfied:
            low.append(Record.from_checked_dict(item))
        seen.add(uuid)
        expected_seq, prev_hash, boot_id, monotonic_ns = seq + 1, record_hash, item["boot_id"], item["monotonic_ns"]
    store(rows)
    last = items[-1]
    new_head = ChainHead(last["seq"], last["hash"], last["boot_id"], last["monotonic_ns"])
    if key is None:
        kept_key = None
    elif verified_seq is None:
        kept_key = key
    else:
        kept_key = SealKey(key.first_seq, verified_seq + 1, next_key(verified_key))
    return PlainBatch(len(items), results, new_head, kept_key, low)
