"""PINs: salted scrypt hashes, the lock-out that survives a restart, and the
``python -m kiosk.pin`` command that writes a hash into config.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.pin import PinGuard, hash_pin, is_pin_hash, is_valid_pin, verify_pin
from kiosk.store import Store
from tests.conftest import ROOT

DEMO_PIN = "2468"  # the demo roster's PIN, per the comment in config.yaml


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_hash_then_verify() -> None:
    stored = hash_pin("1234")
    assert is_pin_hash(stored)
    assert stored.startswith("scrypt$")
    assert verify_pin("1234", stored)


def test_wrong_pin_is_refused() -> None:
    stored = hash_pin("1234")
    assert not verify_pin("1235", stored)
    assert not verify_pin("", stored)
    assert not verify_pin("12345", stored)


def test_same_pin_gets_a_different_salt() -> None:
    a, b = hash_pin("1234"), hash_pin("1234")
    assert a != b
    assert verify_pin("1234", a) and verify_pin("1234", b)


def test_demo_roster_pin_verifies() -> None:
    settings = load_settings(ROOT / "config.yaml")
    assert verify_pin(DEMO_PIN, settings.officers[0].pin_hash)
    assert verify_pin("1357", settings.technician_pin_hash)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "2468",
        "scrypt",
        "scrypt$16384$8$1$salt$digest",  # not base64
        "bcrypt$16384$8$1$3Df7N7Tlly5N1M0NRG9Tlg==$Q3aj6ZTJ6ORqGyPxIirxHmm38mRxBuXLYqoPt2tihxE=",
        "scrypt$16385$8$1$3Df7N7Tlly5N1M0NRG9Tlg==$Q3aj6ZTJ6ORqGyPxIirxHmm38mRxBuXLYqoPt2tihxE=",  # N not 2^k
        "scrypt$16384$8$1$3Df7N7Tlly5N1M0NRG9Tlg==$Q3aj6ZTJ6ORq",  # short digest
        "scrypt$16384$8$1$AAAA$Q3aj6ZTJ6ORqGyPxIirxHmm38mRxBuXLYqoPt2tihxE=",  # short salt
        "scrypt$x$8$1$3Df7N7Tlly5N1M0NRG9Tlg==$Q3aj6ZTJ6ORqGyPxIirxHmm38mRxBuXLYqoPt2tihxE=",
        "scrypt$16384$8$1$3Df7N7Tlly5N1M0NRG9Tlg==$Q3aj6ZTJ6ORqGyPxIirxHmm38mRxBuXLYqoPt2tihxE=$extra",
    ],
)
def test_junk_is_not_a_pin_hash(junk: str) -> None:
    assert not is_pin_hash(junk)
    assert not verify_pin("2468", junk)


def test_hash_too_costly_to_verify_is_refused_not_raised() -> None:
    """Parameters beyond scrypt's default memory limit would make checking
    the PIN raise at the sign-in screen; such a hash is not a PIN hash."""
    parts = hash_pin("1234").split("$")
    parts[1] = str(2**15)
    costly = "$".join(parts)
    assert not is_pin_hash(costly)
    assert verify_pin("1234", costly) is False


@pytest.mark.parametrize(("pin", "ok"), [("1234", True), ("12345678", True), ("123", False),
                                         ("123456789", False), ("12a4", False), ("١٢٣٤", False)])
def test_valid_pin_shape(pin: str, ok: bool) -> None:
    assert is_valid_pin(pin) is ok


def _guard(store: Store, clock: FakeClock, attempts: int = 3, lockout_s: float = 60.0) -> PinGuard:
    return PinGuard(attempts, lockout_s, store.pin_state, store.save_pin_state, clock)


@pytest.fixture(scope="module")
def stored_pin() -> str:
    # scrypt is slow on purpose; one hash serves every lock-out test.
    return hash_pin("2468")


def test_guard_accepts_right_pin(tmp_path: Path, stored_pin: str) -> None:
    store = Store(tmp_path / "kiosk.db")
    guard = _guard(store, FakeClock())
    assert guard.check("officer:a", "2468", stored_pin) == (True, 3)


def test_guard_counts_down_then_locks(tmp_path: Path, stored_pin: str) -> None:
    store = Store(tmp_path / "kiosk.db")
    clock = FakeClock()
    guard = _guard(store, clock)
    assert guard.check("officer:a", "0000", stored_pin) == (False, 2)
    assert guard.check("officer:a", "0000", stored_pin) == (False, 1)
    assert guard.check("officer:a", "0000", stored_pin) == (False, 0)
    assert guard.locked_for("officer:a") == pytest.approx(60.0)
    # Locked: even the right PIN is refused, without being looked at.
    assert guard.check("officer:a", "2468", stored_pin) == (False, 0)
    # Another subject is not affected.
    assert guard.locked_for("technician") == 0.0
    assert guard.check("technician", "2468", stored_pin) == (True, 3)


def test_officer_without_pin_counts_as_failure(tmp_path: Path) -> None:
    store = Store(tmp_path / "kiosk.db")
    guard = _guard(store, FakeClock())
    assert guard.check("officer:b", "2468", None) == (False, 2)


def test_lockout_survives_a_restart(tmp_path: Path, stored_pin: str) -> None:
    clock = FakeClock()
    first = Store(tmp_path / "kiosk.db")
    guard = _guard(first, clock)
    for _ in range(3):
        guard.check("technician", "1111", stored_pin)
    first.close()

    # The app restarts: a new Store on the same file, a new guard.
    again = Store(tmp_path / "kiosk.db")
    clock.now += 10
    guard = _guard(again, clock)
    assert guard.locked_for("technician") == pytest.approx(50.0)
    assert guard.check("technician", "2468", stored_pin) == (False, 0)
    assert again.pin_state("technician")["lockouts"] == 1


def test_failures_short_of_lockout_survive_a_restart(tmp_path: Path, stored_pin: str) -> None:
    clock = FakeClock()
    guard = _guard(Store(tmp_path / "kiosk.db"), clock)
    guard.check("technician", "1111", stored_pin)
    guard.check("technician", "1111", stored_pin)
    guard = _guard(Store(tmp_path / "kiosk.db"), clock)
    # A restart does not give three fresh tries.
    assert guard.check("technician", "1111", stored_pin) == (False, 0)
    assert guard.locked_for("technician") > 0


def test_lockout_expires_then_doubles(tmp_path: Path, stored_pin: str) -> None:
    store = Store(tmp_path / "kiosk.db")
    clock = FakeClock()
    guard = _guard(store, clock, attempts=2, lockout_s=60.0)

    def fail_until_locked() -> float:
        while True:
            accepted, left = guard.check("officer:a", "0000", stored_pin)
            assert not accepted
            if left == 0:
                return guard.locked_for("officer:a")

    assert fail_until_locked() == pytest.approx(60.0)
    clock.now += 59.5
    assert guard.locked_for("officer:a") == pytest.approx(0.5)
    clock.now += 1
    assert guard.locked_for("officer:a") == 0.0
    assert fail_until_locked() == pytest.approx(120.0)
    clock.now += 121
    assert fail_until_locked() == pytest.approx(240.0)
    clock.now += 241
    # The right PIN resets the count and the doubling.
    assert guard.check("officer:a", "2468", stored_pin) == (True, 2)
    assert fail_until_locked() == pytest.approx(60.0)


def test_lockout_is_capped_at_an_hour(tmp_path: Path, stored_pin: str) -> None:
    store = Store(tmp_path / "kiosk.db")
    clock = FakeClock()
    guard = _guard(store, clock, attempts=1, lockout_s=600.0)
    longest = 0.0
    for _ in range(6):
        guard.check("technician", "0000", stored_pin)
        longest = guard.locked_for("technician")
        clock.now += longest + 1
    assert longest == pytest.approx(3600.0)


# -- python -m kiosk.pin ----------------------------------------------------


def _run_pin_cli(config: Path, *args: str, pin_input: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.pin", "--config", str(config), *args, "--pin-stdin"],
        input=pin_input,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture
def commented_config(tmp_path: Path) -> Path:
    """The demo config.yaml itself, comments and all, with its portraits beside it."""
    from tests.conftest import load_demo_tree, write_config

    write_config(tmp_path, load_demo_tree())  # brings the portraits
    path = tmp_path / "config.yaml"
    path.write_text((ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_pin_cli_sets_officer_pin_and_keeps_comments(commented_config: Path) -> None:
    before = commented_config.read_text(encoding="utf-8")
    result = _run_pin_cli(commented_config, "--officer", "tran-van-hung", pin_input="97531\n")
    assert result.returncode == 0, result.stderr
    after = commented_config.read_text(encoding="utf-8")
    for comment in (
        "# Hài Lòng — settings of this tablet (demo values).",
        "# Demo PIN of every officer: 2468.",
        "# the leaders' hotline, shown on the thank-you screen",
        "# a tap sooner than this after the last one is flagged \"burst\"",
    ):
        assert comment in before and comment in after
    settings = load_settings(commented_config)
    assert verify_pin("97531", settings.officer("tran-van-hung").pin_hash)
    assert not verify_pin("2468", settings.officer("tran-van-hung").pin_hash)
    # The others keep theirs.
    assert verify_pin("2468", settings.officer("nguyen-thi-lan").pin_hash)
    assert not list(commented_config.parent.glob("*.tmp"))
    # Nothing else is rewritten: quotes, indentation and other values stay as
    # the technician wrote them (a long flow list may be re-wrapped).
    lost = set(before.splitlines()) - set(after.splitlines())
    assert all(line.strip().startswith(("low:", "no_apology")) for line in lost), lost


def test_pin_cli_sets_technician_pin(commented_config: Path) -> None:
    result = _run_pin_cli(commented_config, "--technician", pin_input="8642\n")
    assert result.returncode == 0, result.stderr
    assert verify_pin("8642", load_settings(commented_config).technician_pin_hash)


@pytest.mark.parametrize(
    ("args", "pin_input"),
    [(("--officer", "nobody"), "1234\n"), (("--officer", "tran-van-hung"), "12\n"),
     (("--officer", "tran-van-hung"), "12ab\n")],
    ids=["unknown officer", "too short", "not digits"],
)
def test_pin_cli_refuses_and_leaves_file_alone(commented_config: Path, args: tuple, pin_input: str) -> None:
    before = commented_config.read_bytes()
    result = _run_pin_cli(commented_config, *args, pin_input=pin_input)
    assert result.returncode == 1
    assert result.stderr.strip() and "Traceback" not in result.stderr
    assert commented_config.read_bytes() == before


def test_pin_cli_missing_config(tmp_path: Path) -> None:
    result = _run_pin_cli(tmp_path / "absent.yaml", "--technician", pin_input="1234\n")
    assert result.returncode == 1
    assert "absent.yaml" in result.stderr and "Traceback" not in result.stderr


def test_a_corrected_wall_clock_never_lengthens_a_lock_out():
    """A lock-out begun while the clock was a year fast lasts what was imposed."""
    from kiosk.pin import PinGuard, hash_pin

    state: dict = {}
    now = [1_800_000_000.0 + 365 * 86400]
    guard = PinGuard(attempts=1, lockout_s=60, load=lambda s: dict(state.get(s, {})),
                     save=lambda s, v: state.__setitem__(s, v), clock=lambda: now[0])
    stored = hash_pin("2468")
    assert guard.check("technician", "0000", stored) == (False, 0)
    now[0] -= 365 * 86400  # the technician puts the clock right
    assert 0 < guard.locked_for("technician") <= 60
