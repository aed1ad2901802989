"""The device's own secret, received at pairing, kept in a file beside the
database that only its owner can read (mode 0600)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.files import write_atomically

__all__ = ["DeviceCredentials", "CredentialsError", "save_credentials", "load_credentials"]


class CredentialsError(RuntimeError):
    """The credentials file exists but cannot be read as credentials."""


@dataclass(frozen=True)
class DeviceCredentials:
    """What a paired device needs to authenticate its requests."""

    device_id: str
    secret: str
    server_url: str
    paired_at: str


def save_credentials(path: str | Path, credentials: DeviceCredentials) -> None:
    """Write the credentials atomically, readable and writable by the owner only."""
    write_atomically(Path(path), json.dumps(asdict(credentials)).encode("utf-8"), mode=0o600)


def load_credentials(path: str | Path) -> DeviceCredentials | None:
    """The stored credentials, or ``None`` when the device was never paired."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return DeviceCredentials(**{k: data[k] for k in ("device_id", "secret", "server_url", "paired_at")})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(f"{path}: not a device secret file ({exc})") from None
