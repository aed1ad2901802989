"""PINs on the tablet: checked with a lock-out after repeated failures, and
set from the command line. The verifier format (salted scrypt) is the shared
contract's (:mod:`sync.pin`); its names are re-exported here.

The roster's verifiers arrive keyed to this tablet's secret; :class:`PinGuard`
checks them with the key its ``device_key`` gives (:func:`kiosk.link.credentials.pin_key`).
A roster kept from before keying, and the PINs set in ``config.yaml``, are
plain verifiers and are checked as they always were.

``python -m kiosk.pin --config config.yaml --officer nguyen-thi-lan`` asks for a
new PIN twice and writes its hash into the file, keeping the file's comments.
``--technician`` sets the technician's PIN instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import ConfigError
from kiosk.config_file import ConfigFile
from kiosk.i18n import catalogue
from sync.pin import hash_pin, is_pin_hash, is_valid_pin, verify_pin

__all__ = ["hash_pin", "verify_pin", "is_pin_hash", "is_valid_pin", "PinGuard", "main"]


@dataclass
class PinGuard:
    """Counts failed PIN attempts per subject and locks it out for a while.

    The state lives in the store (``load``/``save`` callables), so a restart
    does not reset a lock-out. The lock-out doubles with every further run of
    failures, up to an hour.

    ``device_key`` gives the key keyed verifiers are checked with (read when a
    PIN is checked, so a tablet paired again uses its new secret at once);
    ``None`` when the tablet is not paired.
    """

    attempts: int
    lockout_s: float
    load: Callable[[str], dict]
    save: Callable[[str, dict], None]
    clock: Callable[[], float]
    device_key: Callable[[], bytes | None] = field(default=lambda: None)

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
        if stored is not None and verify_pin(pin_entered, stored, self.device_key()):
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
    import argparse  # the command line's alone: the kiosk imports this module at start
    import getpass

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
