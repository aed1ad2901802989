"""Writing files so that a pulled plug leaves either the old file or the new
one, never half of each: write a temporary file beside it, sync it, rename it
over the old one, sync the folder. The tablet's config, credentials, roster
and exports are written this way."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically", "sync_folder"]


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; folders cannot be opened on Windows)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``content`` atomically and durably.

    ``mode`` sets the new file's permissions (e.g. ``0o600`` for a secret)
    before any content is written; without it the old file's are kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.chmod(temp, mode)
        elif path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
        if mode is not None:
            os.chmod(path, mode)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    sync_folder(path.parent)
