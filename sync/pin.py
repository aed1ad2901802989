"""The PIN verifier format both ends share: salted scrypt hashes.

The server writes a verifier when a PIN is set on the web and pushes it with
the roster; the tablet checks a PIN typed at the counter against it. Nothing
else is stored, so a leaked roster or config file never holds a PIN in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_pin", "verify_pin", "is_pin_hash", "is_valid_pin"]

# scrypt cost: about 30 ms on a modest tablet; the lock-out, not the hash,
# is what stops guessing a 4-digit PIN at the counter.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt"
# What hashlib lets scrypt use by default (OpenSSL's 32 MiB). A stored hash
# whose parameters need more could never be checked: verifying it would raise
# instead of answering, so such a hash is not accepted as a PIN hash at all.
_MAX_SCRYPT_MEMORY = 32 * 1024 * 1024


def is_valid_pin(pin: str) -> bool:
    """A PIN is 4 to 8 digits."""
    return pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 8


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """Hash a PIN as ``scrypt$N$r$p$<salt>$<digest>`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"{_PREFIX}${_N}${_R}${_P}${b64(salt)}${b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
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
    return n, r, p, salt, digest


def is_pin_hash(stored: str) -> bool:
    """Whether a string has the form :func:`hash_pin` writes."""
    return _parse(stored) is not None


def verify_pin(pin: str, stored: str) -> bool:
    """Check a PIN against a stored hash, in constant time."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    candidate = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest))
    return hmac.compare_digest(candidate, digest)
