"""The device's own secret, received at pairing, kept in a file beside the
database that only its owner can read (mode 0600)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.files import write_atomically
from sync.pin import device_pin_key

__all__ = ["DeviceCredentials", "CredentialsError", "save_credentials", "load_credentials", "pin_key"]


class CredentialsError(RuntimeError):
    """The credentials file exists but cannot be read as credentials."""


@dataclass(frozen=True)
class DeviceCredentials:
    """What a paired device needs to authenticate its requests."""

    device_id: str
    secret: str
    server_url: str
    paired_at: str
    callback_key: str | None = None
    """The server's public key call-back numbers are sealed to (base64), as
    pairing gave it; the roster brings it to tablets paired before it existed."""


def save_credentials(path: str | Path, credentials: DeviceCredentials) -> None:
    """Write the credentials atomically, readable and writable by the owner only."""
    write_atomically(Path(path), json.dumps(asdict(credentials)).encode("utf-8"), mode=0o600)


def load_credentials(path: str | Path) -> DeviceCredentials | None:
    """The stored credentials, or ``None`` when the device was never paired."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return DeviceCredentials(**{k: data[k] for k in ("device_id", "secret", "server_url", "paired_at")},
                                 callback_key=data.get("callback_key"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(f"{path}: not a device secret file ({exc})") from None


def pin_key(path: str | Path) -> bytes | None:
    """The key the roster's PIN verifiers are bound to (:func:`sync.pin.device_pin_key`
    of this device's secret), or ``None`` when the device is not paired or its
    secret file cannot be read: a keyed verifier then accepts no PIN."""
    try:
        credentials = load_credentials(path)
    except CredentialsError:
        return None
    return device_pin_key(credentials.secret) if credentials else None
