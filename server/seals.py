"""Forward integrity: the server's side of the tablets' seals (:mod:`sync.seal`).

A tablet hands the server its first sealing key once, right after pairing
(:func:`register_key`). From then on every record it makes carries a seal
made with the key of its sequence number, and the key moves on one way only;
the server evolves its copy forward and checks each new record's seal as it
arrives (:func:`check_seals`), keeping only the key of the record after the
last one verified, never an older one.

The rules, for a device's new records in sequence order:

* before the first sealed sequence number: *unsealed* (made before pairing);
  nothing can protect them, and the device's health counts them;
* at or after it, without a seal: ``unsealed_after_pairing`` (a seal was
  stripped, or an old app is writing again);
* with a seal that is not the right HMAC under the key of its sequence
  number: ``bad_seal`` (edited, deleted and renumbered, inserted, reordered or
  re-hashed by someone without the key of that time — or sealed with a key
  that is not the device's);
* a record after a gap is checked by evolving the key over the gap (at most
  :data:`sync.seal.MAX_STEPS` steps: further ahead, ``bad_seal``).

A record that arrives late, below the key, cannot be checked with a key the
server no longer holds; it is checked through the chain instead: its hash
must be the ``prev_hash`` of the (verified) record after it, which
:func:`server.ingest.plan_batch` already requires (else ``broken_link``).

Like the chain's findings, a seal finding never drops the record: it is kept,
flagged, and the finding names the device and the sequence number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from server.ingest import Finding, IngestPlan
from server.store import seals as stored_seals
from sync.protocol import ErrorCode
from sync.seal import MAX_STEPS, key_after, key_id, next_key, record_seal_matches, seal_matches

__all__ = [
    "BAD_SEAL",
    "UNSEALED_AFTER_PAIRING",
    "SEAL_PROBLEMS",
    "SealKey",
    "SealKeyRefused",
    "register_key",
    "check_seals",
    "key_of_device",
    "device_columns",
]

BAD_SEAL = "bad_seal"
UNSEALED_AFTER_PAIRING = "unsealed_after_pairing"
SEAL_PROBLEMS = frozenset({BAD_SEAL, UNSEALED_AFTER_PAIRING})
"""Finding problems (and record flags) of this module; both make a device's chain ``flagged``."""
FLAG_UNSEALED = "unsealed"


class SealKeyRefused(Exception):
    """A registration the server does not take; ``detail`` says why."""

    code = ErrorCode.SEAL_KEY_REFUSED

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class SealKey:
    """What the server holds of a device's sealing: the first sealed sequence
    number, and the key of sequence number ``seq`` (the one after the last
    record verified)."""

    first_seq: int
    seq: int
    key: bytes


def key_of_device(device: Mapping[str, Any]) -> SealKey | None:
    """The device row's sealing key, or None when it never registered one."""
    if device.get("seal_first_seq") is None or device.get("seal_key") is None:
        return None
    return SealKey(device["seal_first_seq"], device["seal_seq"], bytes(device["seal_key"]))


def device_columns(key: SealKey) -> dict[str, Any]:
    """The ``devices`` columns that keep ``key`` after a batch."""
    return {"seal_seq": key.seq, "seal_key": key.key}


def register_key(conn: Connection, device_id: str, first_seq: int, key: bytes) -> bool:
    """Keep a device's first sealing key (inside the caller's transaction).

    Returns True when it is new, False when the same registration was made
    before (a tablet that lost the answer asks again). Raises
    :class:`SealKeyRefused` when the device has another key already — a
    device's key is set once: whoever takes a tablet later must not start
    its sealing over with a key of their own — or when records at or past
    ``first_seq`` are already kept (they were not sealed with this key)."""
    row = stored_seals.seal_key_row(conn, device_id)
    if row is None:
        raise SealKeyRefused(f"no device {device_id}")
    ident = key_id(key)
    if row["seal_key_id"] is not None:
        if row["seal_key_id"] == ident and row["seal_first_seq"] == first_seq:
            return False
        raise SealKeyRefused(f"the device has had a sealing key since record {row['seal_first_seq']}; "
                             "a device's sealing key is set once")
    if first_seq <= row["head_seq"]:
        raise SealKeyRefused(f"records up to {row['head_seq']} are kept already; "
                             f"sealing must start after them, not at {first_seq}")
    stored_seals.save_first_key(conn, device_id, first_seq, key, ident)
    return True


def check_seals(key: SealKey | None, plan: IngestPlan) -> SealKey | None:
    """Check the seals of the records ``plan`` keeps (in sequence order),
    adding a flag to each bad one and a finding to the plan; return the key
    to keep (None: no key, nothing to keep)."""
    if key is None:
        return None
    # Where the last evolution got to: keys move forward only, so a batch
    # evolves once however many of its records fail.
    cursor_seq, cursor_key = key.seq, key.key
    # The last record verified: the key to keep is the one after it.
    verified_seq: int | None = None
    verified_key = b""
    for outcome in plan.to_store:
        record = outcome.record
        problem = detail = None
        if record.seq < key.first_seq:
            if record.seal:
                problem, detail = BAD_SEAL, f"sealed before the device's first sealed record ({key.first_seq})"
        elif not record.seal:
            problem, detail = UNSEALED_AFTER_PAIRING, "no seal on a record made after sealing began"
        elif record.seq < cursor_seq:
            continue  # late, below the key: checked through the chain (see the module's notes)
        elif record.seq - cursor_seq > MAX_STEPS:
            problem, detail = BAD_SEAL, f"more than {MAX_STEPS} records past the last verified seal: not checked"
        else:
            if record.seq == cursor_seq + 1:
                cursor_key = next_key(cursor_key)
            elif record.seq != cursor_seq:
                cursor_key = key_after(cursor_key, record.seq - cursor_seq)
            cursor_seq = record.seq
            # The canonical encoding the ingest made once (fast); should it ever
            # differ from the contract's, the contract's own decides.
            if ((outcome.canonical and seal_matches(cursor_key, outcome.canonical, record.hash, record.seal))
                    or record_seal_matches(cursor_key, record)):
                verified_seq, verified_key = record.seq, cursor_key
            else:
                problem, detail = BAD_SEAL, "the seal is not the device's for this record at this place"
        if problem is not None:
            flag = FLAG_UNSEALED if problem == UNSEALED_AFTER_PAIRING else BAD_SEAL
            outcome.flags = tuple(sorted({*outcome.flags, flag}))
            outcome.detail = "stored, flagged: " + ", ".join(outcome.flags)
            plan.findings.append(Finding(record.seq, problem, detail, record.uuid))
    if verified_seq is None:
        return key
    return SealKey(key.first_seq, verified_seq + 1, next_key(verified_key))
