"""Forward-secure seals on a device's records (forward integrity of the journal).

A tablet that is paired holds a *sealing key* that changes after every record
it writes. The key for the record at sequence number ``i`` is ``K[i]``; the
next one is derived from it one way only::

    K[i + 1] = SHA-256("hailong-seal-next" ‖ K[i])

and the seal of record ``i`` is ``HMAC-SHA256(K[i], canonical bytes ‖ hash)``
(the hash as its 64 hex digits). The tablet overwrites ``K[i]`` with
``K[i + 1]`` in the same transaction that writes record ``i``, so whoever
takes the tablet afterwards finds only the key of the *next* record: they can
seal records from there on, but cannot recompute the seal of any record
written before — SHA-256 cannot be run backwards. The server, which received
the first key at pairing, evolves its copy forward and checks every seal (as
in Schneier and Kelsey's secure audit logs and journald's Forward Secure
Sealing).

The seal is outside the hash: the chain (``prev_hash`` → ``hash``) stays
checkable by anyone without a key, and the seal, covering the hash, covers
the record and through ``prev_hash`` the whole chain before it.

Only the standard library is used, as everywhere in ``sync``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sync.record import Record, canonical_bytes

__all__ = [
    "KEY_BYTES",
    "MAX_STEPS",
    "new_key",
    "next_key",
    "key_after",
    "key_id",
    "seal_of",
    "seal_digest",
    "seal_matches",
    "is_seal",
    "seal_record",
    "record_seal_matches",
]

KEY_BYTES = 32
NEXT_LABEL = b"hailong-seal-next"
ID_LABEL = b"hailong-seal-id"
MAX_STEPS = 1_000_000
"""How far a verifier evolves a key in one go: about a second of SHA-256. A
record claiming to be further ahead of the last verified one is not checked
(an attacker holding a device secret must not make the server spin)."""

_SEAL = re.compile(r"^[0-9a-f]{64}\Z")
# HMAC's inner and outer pads (RFC 2104) as byte translations: a key padded
# to SHA-256's block is XORed with 0x36 or 0x5C by one bytes.translate.
_BLOCK = 64
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def new_key() -> bytes:
    """A fresh random first key, made by the tablet when it is paired."""
    return secrets.token_bytes(KEY_BYTES)


def next_key(key: bytes) -> bytes:
    """The key of the next record: one step of the one-way evolution."""
    return hashlib.sha256(NEXT_LABEL + key).digest()


def key_after(key: bytes, steps: int) -> bytes:
    """The key ``steps`` records later (``steps`` ≥ 0, at most :data:`MAX_STEPS`)."""
    if not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"cannot evolve a sealing key {steps} steps")
    sha256 = hashlib.sha256
    for _ in range(steps):
        key = sha256(NEXT_LABEL + key).digest()
    return key


def key_id(key: bytes) -> str:
    """A digest naming a first key without revealing it or any later key
    (another label than the evolution's), so a repeated registration can be
    recognised after the key itself has moved on."""
    return hashlib.sha256(ID_LABEL + key).hexdigest()


def seal_of(key: bytes, canonical: bytes, record_hash: str) -> str:
    """The seal of a record, as 64 hex digits: the HMAC of its canonical
    bytes and its hash with the key of its sequence number."""
    return seal_digest(key, canonical + record_hash.encode("ascii")).hex()


def seal_digest(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message`` under ``key``, the very bytes of
    ``hmac.new(key, message, hashlib.sha256).digest()``.

    Made of two SHA-256 calls, as RFC 2104 defines it: each key seals one
    record only, and the server checks a seal per record it receives, so
    the HMAC object the ``hmac`` module builds around them (and its digest
    lookup) cost more than the hashing itself."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(key.translate(_INNER_PAD) + message).digest()
    return hashlib.sha256(key.translate(_OUTER_PAD) + inner).digest()


def seal_matches(key: bytes, canonical: bytes, record_hash: str, seal: str) -> bool:
    """Whether ``seal`` is the record's seal under ``key``, compared in constant time."""
    if not is_seal(seal):
        return False
    return hmac.compare_digest(seal_of(key, canonical, record_hash), seal)


def is_seal(value: object) -> bool:
    """Whether ``value`` has a seal's form (64 lower-case hex digits)."""
    return isinstance(value, str) and _SEAL.match(value) is not None


def seal_record(key: bytes, record: Record) -> str:
    """The seal of a hashed record (format version 2) under the key of its sequence number."""
    return seal_of(key, canonical_bytes(record), record.hash)


def record_seal_matches(key: bytes, record: Record) -> bool:
    """Whether the record's ``seal`` is right under ``key`` (the key of its
    sequence number). An empty or malformed seal never matches."""
    return seal_matches(key, canonical_bytes(record), record.hash, record.seal)
