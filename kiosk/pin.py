"""PINs: stored only as salted scrypt hashes, checked with a lock-out after
repeated failures, and set from the command line.

``python -m kiosk.pin --config config.yaml --officer nguyen-thi-lan`` asks for a
new PIN twice and writes its hash into the file, keeping the file's comments.
``--technician`` sets the technician's PIN instead.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["hash_pin", "verify_pin", "is_pin_hash", "is_valid_pin", "PinGuard", "main"]

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


@dataclass
class PinGuard:
    """Counts failed PIN attempts per subject and locks it out for a while.

    The state lives in the store (``load``/``save`` callables), so a restart
    does not reset a lock-out. The lock-out doubles with every further run of
    failures, up to an hour.
    """

    attempts: int
    lockout_s: float
    load: Callable[[str], dict]
    save: Callable[[str, dict], None]
    clock: Callable[[], float]

    def locked_for(self, subject: str) -> float:
        """Seconds left of a lock-out, 0 when the subject may try.

        Never more than the lock-out that was imposed: a wall clock that was
        fast when it began and corrected since must not lock anyone out longer.
        """
        state = self.load(subject)
        left = max(0.0, state.get("locked_until", 0.0) - self.clock())
        imposed = min(3600.0, self.lockout_s * 2 ** max(0, state.get("lockouts", 1) - 1))
        return min(left, imposed)

    def check(self, subject: str, pin_entered: str, stored: str | None) -> tuple[bool, int]:
        """Try a PIN. Returns (accepted, attempts left before the lock-out).

        A locked subject is refused without looking at the PIN.
        """
        if self.locked_for(subject) > 0:
            return False, 0
        state = self.load(subject)
        if stored is not None and verify_pin(pin_entered, stored):
            self.save(subject, {"failures": 0, "lockouts": 0, "locked_until": 0.0})
            return True, self.attempts
        failures = state.get("failures", 0) + 1
        lockouts = state.get("lockouts", 0)
        locked_until = 0.0
        if failures >= self.attempts:
            locked_until = self.clock() + min(3600.0, self.lockout_s * 2**lockouts)
            failures, lockouts = 0, lockouts + 1
        self.save(subject, {"failures": failures, "lockouts": lockouts, "locked_until": locked_until})
        return False, 0 if locked_until else self.attempts - failures


def set_pin_in_config(config_path: Path, pin_hash: str, *, officer: str | None) -> None:
    """Write a PIN hash into a config file, keeping its comments, atomically.

    The writing itself (round-trip, validation, atomic replace) lives in
    :class:`kiosk.config_file.ConfigFile`; this keeps the command line's
    errors: ``FileNotFoundError`` for a missing file, ``KeyError`` for an
    officer not on the roster.
    """
    from kiosk.config import ConfigError
    from kiosk.config_file import ConfigFile

    try:
        ConfigFile(config_path).set_pin_hash(pin_hash, officer=officer)
    except ConfigError as exc:
        if exc.problem == "no_config":
            raise FileNotFoundError(str(config_path)) from None
        if exc.problem == "no_such_officer":
            raise KeyError(officer) from None
        raise


def main(argv: list[str] | None = None) -> int:
    """Command line: set an officer's or the technician's PIN in a config file."""
    from kiosk.config import ConfigError
    from kiosk.i18n import catalogue

    parser = argparse.ArgumentParser(
        prog="python -m kiosk.pin",
        description="Set a PIN in config.yaml, stored as a salted hash. "
        "Example: python -m kiosk.pin --config config.yaml --officer nguyen-thi-lan",
    )
    parser.add_argument("--config", default="config.yaml", type=Path, help="the config file to change")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--officer", help="the officer's id in the roster")
    who.add_argument("--technician", action="store_true", help="set the technician's PIN")
    parser.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input (scripts)")
    parser.add_argument("--language", default="vi", choices=("vi", "en"))
    args = parser.parse_args(argv)
    text = catalogue(args.language)

    if args.pin_stdin:
        first = second = sys.stdin.readline().strip()
    else:
        first = getpass.getpass(text.get("pin.prompt"))
        second = getpass.getpass(text.get("pin.again"))
    if first != second:
        print(text.get("pin.mismatch"), file=sys.stderr)
        return 1
    if not is_valid_pin(first):
        print(text.get("pin.invalid"), file=sys.stderr)
        return 1
    try:
        set_pin_in_config(args.config, hash_pin(first), officer=args.officer)
    except FileNotFoundError:
        print(text.get("config.no_config", file=args.config), file=sys.stderr)
        return 1
    except KeyError:
        print(text.get("config.no_such_officer", id=args.officer), file=sys.stderr)
        return 1
    except ConfigError as exc:  # the file was already broken: it is left as it was
        print(exc.line(), file=sys.stderr)
        return 1
    print(text.get("pin.saved", file=args.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
