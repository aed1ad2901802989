"""The PIN verifier format both ends share: salted scrypt hashes, and the
keyed form in which the server sends them to one tablet.

The server writes a verifier when a PIN is set on the web and keeps it. A
verifier alone lets whoever holds it guess a 4-digit PIN offline in minutes,
so it never leaves the server as it is: the roster a tablet fetches carries
each verifier *keyed* to that tablet (:func:`key_pin_hash`), an HMAC-SHA256
of the scrypt digest under a key derived from the tablet's own secret
(:func:`device_pin_key`). The tablet checks a typed PIN by the same two steps
(scrypt, then the HMAC with its key); someone who captured the roster on the
wire but holds no device secret has nothing to test PINs against.

A PIN set on the tablet itself (``config.yaml``, the technician's PIN) stays
a plain verifier: it never travels.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "hash_pin",
    "verify_pin",
    "is_pin_hash",
    "is_keyed_pin_hash",
    "is_valid_pin",
    "device_pin_key",
    "key_pin_hash",
    "KEYED_PREFIX",
]

# scrypt cost: about 30 ms on a modest tablet; the lock-out, not the hash,
# is what stops guessing a 4-digit PIN at the counter.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt"
KEYED_PREFIX = "keyed-scrypt"
"""The first field of a verifier keyed to one device."""
# Keeps the PIN key apart from the other use of the device secret (signing
# requests): the two are never the same bytes.
_KEY_CONTEXT = b"hailong/pin-verifier-key/v1"
# What hashlib lets scrypt use by default (OpenSSL's 32 MiB). A stored hash
# whose parameters need more could never be checked: verifying it would raise
# instead of answering, so such a hash is not accepted as a PIN hash at all.
_MAX_SCRYPT_MEMORY = 32 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def is_valid_pin(pin: str) -> bool:
    """A PIN is 4 to 8 digits."""
    return pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 8


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """Hash a PIN as ``scrypt$N$r$p$<salt>$<digest>`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"{_PREFIX}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[str, int, int, int, bytes, bytes] | None:
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] not in (_PREFIX, KEYED_PREFIX):
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or len(digest) != 32 or len(salt) < 8:
        return None
    if 128 * r * (n + p + 2) > _MAX_SCRYPT_MEMORY:
        return None
    return parts[0], n, r, p, salt, digest


def is_pin_hash(stored: str) -> bool:
    """Whether a string is a PIN verifier: the plain form :func:`hash_pin`
    writes, or the keyed form :func:`key_pin_hash` writes."""
    return _parse(stored) is not None


def is_keyed_pin_hash(stored: str) -> bool:
    """Whether a string is a verifier keyed to one device (:func:`key_pin_hash`)."""
    parsed = _parse(stored)
    return parsed is not None and parsed[0] == KEYED_PREFIX


def device_pin_key(device_secret: str) -> bytes:
    """The key that binds PIN verifiers to one device, derived from the secret
    it received at pairing (HMAC-SHA256 of a fixed context)."""
    return hmac.new(device_secret.encode("utf-8"), _KEY_CONTEXT, hashlib.sha256).digest()


def _keyed(device_key: bytes, digest: bytes) -> bytes:
    return hmac.new(device_key, digest, hashlib.sha256).digest()


def key_pin_hash(stored: str, device_key: bytes) -> str:
    """A plain verifier keyed to one device:
    ``keyed-scrypt$N$r$p$<salt>$<HMAC-SHA256(device_key, digest)>``.

    Salt and cost stay as they were, so the tablet derives the same digest
    from a typed PIN. Raises ``ValueError`` for anything but a plain verifier.
    """
    parsed = _parse(stored)
    if parsed is None or parsed[0] != _PREFIX:
        raise ValueError("not a plain PIN verifier")
    _, n, r, p, salt, digest = parsed
    return f"{KEYED_PREFIX}${n}${r}${p}${_b64(salt)}${_b64(_keyed(device_key, digest))}"


def verify_pin(pin: str, stored: str, device_key: bytes | None = None) -> bool:
    """Check a PIN against a verifier, in constant time.

    A keyed verifier is checked with ``device_key`` (:func:`device_pin_key`
    of this device's secret); without it, or with another device's, it
    refuses every PIN.
    """
    parsed = _parse(stored)
    if parsed is None:
        return False
    form, n, r, p, salt, digest = parsed
    if form == KEYED_PREFIX and device_key is None:
        return False
    candidate = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest))
    if form == KEYED_PREFIX:
        candidate = _keyed(device_key, candidate)  # type: ignore[arg-type]  # checked above
    return hmac.compare_digest(candidate, digest)
