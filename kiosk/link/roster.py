"""The roster pushed by the server — officers (with portraits), counters,
reasons and settings — fetched with conditional requests and kept on disk,
so the tablet keeps working from the last copy when the server is away.

    roster = RosterSync(directory, link)
    new = roster.fetch()     # the new roster, or None when unchanged (304)
    last = roster.cached()   # the last copy on disk, or None

Every officer in a returned roster has ``photo_file``: the local path of the
portrait, or ``None``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.files import write_atomically
from sync.protocol import API_PREFIX

if TYPE_CHECKING:  # requests and the wire shapes only once the tablet talks to a server (cold start)
    from kiosk.link.transport import ServerLink
    from sync import wire

__all__ = ["RosterSync", "RosterError", "roster_directory"]

_ROSTER_FILE = "roster.json"
_ETAG_FILE = "etag"
_SAFE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


class RosterError(RuntimeError):
    """The server's roster cannot be used (it is not what it claims to be)."""


def roster_directory(db_path: str | Path) -> Path:
    """Where the roster is kept: a folder beside the tablet's database."""
    db_path = Path(db_path)
    return db_path.parent / f"{db_path.stem}-roster"


class RosterSync:
    """Fetches and keeps the roster of one tablet."""

    def __init__(self, directory: str | Path, link: ServerLink):
        self.directory = Path(directory)
        self.link = link

    def fetch(self) -> dict[str, Any] | None:
        """Ask the server for the roster; return it when it changed, ``None``
        when it did not (304). Raises ``TransportError`` when the server cannot
        be reached (the cached copy stays as it was) and :class:`RosterError`
        when the answer is unusable."""
        from sync import wire

        etag = self._stored_etag() if (self.directory / _ROSTER_FILE).exists() else None
        path = f"{API_PREFIX}/roster"
        fetched = self.link.get_signed(path, etag)
        if fetched.body is None:
            return None
        try:
            document = json.loads(fetched.body)
        except ValueError:
            raise RosterError("the roster is not JSON") from None
        try:
            roster = wire.parse(wire.RosterDocument, document)
        except wire.WireError as exc:
            raise RosterError(f"the roster does not have the protocol's shape: {exc}") from None
        # Portraits first, the document last: a cut in the middle leaves the old copy whole.
        for officer in roster.officers:
            self._portrait(officer)
        write_atomically(self.directory / _ROSTER_FILE,
                          json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
        write_atomically(self.directory / _ETAG_FILE, (fetched.etag or "").encode("utf-8"))
        return self._with_files(document)

    def cached(self) -> dict[str, Any] | None:
        """The last roster received, from disk, or ``None``."""
        try:
            document = json.loads((self.directory / _ROSTER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return self._with_files(document) if isinstance(document, dict) else None

    # -- portraits -------------------------------------------------------------------

    def _portrait(self, officer: wire.RosterOfficer) -> None:
        photo = officer.photo
        if photo is None or not _SAFE_NAME.match(officer.id):
            return
        target = self._portrait_file(officer.id, photo.content_type)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == photo.sha256:
            return  # unchanged: no download
        fetched = self.link.get_signed(photo.path, None)
        if fetched.body is None or hashlib.sha256(fetched.body).hexdigest() != photo.sha256:
            raise RosterError(f"portrait of {officer.id} does not match its checksum")
        write_atomically(target, fetched.body)

    def _portrait_file(self, officer_id: str, content_type: str) -> Path:
        return self.directory / "portraits" / f"{officer_id}{_EXTENSIONS.get(content_type, '.img')}"

    def _with_files(self, document: dict[str, Any]) -> dict[str, Any]:
        for officer in document.get("officers", []):
            if not isinstance(officer, dict):
                continue
            photo = officer.get("photo")
            officer_id = officer.get("id")
            path = None
            if photo and isinstance(officer_id, str) and _SAFE_NAME.match(officer_id):
                candidate = self._portrait_file(officer_id, str(photo.get("content_type", "")))
                path = str(candidate) if candidate.exists() else None
            officer["photo_file"] = path
        return document

    def _stored_etag(self) -> str | None:
        try:
            return (self.directory / _ETAG_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
