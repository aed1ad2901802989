"""The device's own secret, received at pairing, kept in a file beside the
database that only its owner can read (mode 0600)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".secret-", dir=path.parent)
    try:
        # mkstemp already creates the file 0600; chmod again in case of an odd umask policy.
        os.chmod(temp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(credentials), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
        os.chmod(path, 0o600)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


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
