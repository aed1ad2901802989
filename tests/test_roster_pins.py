"""PIN verifiers on the wire: the roster a tablet fetches carries them keyed
to that tablet's secret, so a captured roster lets nobody test PINs offline,
while the paired tablet still checks PINs after a real roster sync."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kiosk.link.credentials import load_credentials, pin_key
from kiosk.link.roster import RosterSync, roster_directory
from kiosk.link.transport import ServerLink
from kiosk.pin import PinGuard
from kiosk.roster import settings_with_roster
from server.roster import RosterError, RosterStore
from sync import wire
from sync.pin import device_pin_key, hash_pin, is_keyed_pin_hash, key_pin_hash, verify_pin
from sync.protocol import API_PREFIX
from tests.sync_support import Commune, Tablet, roster_file

ALL_4_DIGIT_PINS = [f"{i:04d}" for i in range(10_000)]


def cheap_pin_hash(pin: str, salt: bytes) -> str:
    """A verifier in the real format with a tiny scrypt cost, so a test can
    afford to try every 4-digit PIN against it (the format allows any cost)."""
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=16, r=8, p=1, dklen=32)
    return f"scrypt$16$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def roster_with_pins(tablet: Tablet) -> tuple[Path, dict[str, str]]:
    """The tablet's roster file with a cheap verifier for every officer; and
    each officer's PIN."""
    path = roster_file(tablet)
    yaml = YAML(typ="safe", pure=True)
    tree = yaml.load(path.read_text(encoding="utf-8"))
    pins = {}
    for i, officer in enumerate(tree["officers"]):
        pins[officer["id"]] = f"{4821 + 37 * i:04d}"
        officer["pin_hash"] = cheap_pin_hash(pins[officer["id"]], salt=bytes([i + 1]) * 16)
    yaml.default_flow_style = False
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(tree, fh)
    return path, pins


def strings_in(value: Any) -> list[str]:
    """Every string anywhere in a JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def offline_guesses(value: str) -> list[str]:
    """The PINs an attacker with the project's code but no device secret
    finds for a captured string: every 4-digit PIN tried with
    :func:`verify_pin`, and again with the value read as a plain verifier
    (its salt and cost are public; is the digest in it the PIN's?)."""
    found = [pin for pin in ALL_4_DIGIT_PINS if verify_pin(pin, value)]
    if is_keyed_pin_hash(value):
        as_plain = "scrypt$" + value.split("$", 1)[1]
        found += [pin for pin in ALL_4_DIGIT_PINS if verify_pin(pin, as_plain)]
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def memory_guard(credentials_path: Path) -> PinGuard:
    """A PIN guard as the app builds it: lock-out state in memory, the key
    from the tablet's own secret file."""
    states: dict[str, dict] = {}
    return PinGuard(attempts=100, lockout_s=60.0, load=lambda s: states.get(s, {}),
                    save=states.__setitem__, clock=lambda: 0.0, device_key=lambda: pin_key(credentials_path))


def test_captured_roster_gives_no_pin_while_the_tablet_checks_them(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        tablet.pair(commune)
        credentials = load_credentials(tablet.store.device_secret_path)
        link = ServerLink(commune.url, credentials)
        source, pins = roster_with_pins(tablet)
        RosterStore(commune.engine).import_file(source)

        # What goes over the wire, as someone on the network captures it.
        captured = link.get_signed(f"{API_PREFIX}/roster", None, _now()).body
        document = json.loads(captured)
        assert document["version"] == wire.ROSTER_KEYED_PINS
        verifiers = [o["pin_hash"] for o in document["officers"]]
        assert len(verifiers) == len(pins) and all(is_keyed_pin_hash(v) for v in verifiers)
        for value in strings_in(document):
            assert offline_guesses(value) == [], value

        # The same attack against the verifiers as the server keeps them finds
        # every PIN: what the keying protects is real.
        stored = json.loads(RosterStore(commune.engine).current()[0])
        found = {o["id"]: offline_guesses(o["pin_hash"]) for o in stored["officers"]}
        assert found == {officer: [pin] for officer, pin in pins.items()}

        # The paired tablet, after a real roster sync, checks PINs as before.
        roster = RosterSync(roster_directory(tablet.db_path), link).fetch()
        assert roster is not None
        settings = settings_with_roster(tablet.settings, roster)
        guard = memory_guard(tablet.store.device_secret_path)
        for officer in settings.officers:
            assert guard.check(f"officer:{officer.id}", pins[officer.id], officer.pin_hash) == (True, 100)
            wrong = f"{(int(pins[officer.id]) + 1) % 10_000:04d}"
            assert guard.check(f"officer:{officer.id}", wrong, officer.pin_hash)[0] is False
        # Without its secret (not paired, file gone) a keyed verifier takes no PIN.
        officer = settings.officers[0]
        assert not verify_pin(pins[officer.id], officer.pin_hash)
        assert not verify_pin(pins[officer.id], officer.pin_hash, device_pin_key("another secret"))
        tablet.close()


def test_each_tablet_gets_its_own_verifiers_and_etag(tmp_path):
    with Commune(tmp_path) as commune:
        first = Tablet(tmp_path / "first", commune.url)
        second = Tablet(tmp_path / "second", commune.url)
        first.pair(commune)
        second.pair(commune)
        source, pins = roster_with_pins(first)
        RosterStore(commune.engine).import_file(source)
        syncs = {}
        rosters = {}
        for name, tablet in (("first", first), ("second", second)):
            link = ServerLink(commune.url, load_credentials(tablet.store.device_secret_path))
            syncs[name] = RosterSync(roster_directory(tablet.db_path), link)
            rosters[name] = syncs[name].fetch()
        etags = {name: (roster_directory(t.db_path) / "etag").read_text() for name, t in
                 (("first", first), ("second", second))}
        assert etags["first"] != etags["second"]
        assert syncs["first"].fetch() is None and syncs["second"].fetch() is None  # 304 each

        officer = rosters["first"]["officers"][0]
        theirs = rosters["second"]["officers"][0]
        assert officer["id"] == theirs["id"] and officer["pin_hash"] != theirs["pin_hash"]
        first_key = pin_key(first.store.device_secret_path)
        second_key = pin_key(second.store.device_secret_path)
        assert verify_pin(pins[officer["id"]], officer["pin_hash"], first_key)
        # One tablet's roster is of no use on another tablet.
        assert not verify_pin(pins[officer["id"]], officer["pin_hash"], second_key)
        assert verify_pin(pins[officer["id"]], theirs["pin_hash"], second_key)
        first.close()
        second.close()


def test_a_roster_kept_from_before_keying_still_checks_pins():
    plain = hash_pin("2468")
    key = device_pin_key("the tablet's secret")
    states: dict[str, dict] = {}
    guard = PinGuard(attempts=5, lockout_s=60.0, load=lambda s: states.get(s, {}), save=states.__setitem__,
                     clock=lambda: 0.0, device_key=lambda: key)
    assert guard.check("officer:lan", "2468", plain)[0] is True
    assert guard.check("officer:lan", "2469", plain)[0] is False
    keyed = key_pin_hash(plain, key)
    assert guard.check("officer:lan", "2468", keyed)[0] is True
    with pytest.raises(ValueError):
        key_pin_hash(keyed, key)  # keyed once only


def test_a_keyed_verifier_cannot_be_imported_on_the_server(tmp_path):
    with Commune(tmp_path) as commune:
        tablet = Tablet(tmp_path / "tablet", commune.url)
        path = roster_file(tablet)
        yaml = YAML(typ="safe", pure=True)
        tree = yaml.load(path.read_text(encoding="utf-8"))
        tree["officers"][0]["pin_hash"] = key_pin_hash(hash_pin("1357"), device_pin_key("x"))
        yaml.default_flow_style = False
        with open(path, "w", encoding="utf-8") as fh:
            yaml.dump(tree, fh)
        with pytest.raises(RosterError) as refused:
            RosterStore(commune.engine).import_file(path)
        assert refused.value.path == "officers[0].pin_hash"
        tablet.close()
