"""The roster the server pushes to its tablets: officers (with portraits),
counters, reasons and settings.

A technician imports it from a file shaped like a tablet's ``config.yaml``
(plus an optional ``counters:`` list); it is checked with the shared rules of
:mod:`sync.roster`, so a roster the server accepts is one every tablet accepts. The
served document has a strong ETag, so a tablet asks "has it changed?" and gets
``304 Not Modified`` when it has not.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from copy import deepcopy
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Connection, Engine

from server.clock import Clock, utc_now, utc_text
from server.store import roster as stored_roster
from server.store import write_transaction
from sync import wire
from sync.protocol import API_PREFIX
from sync.roster import COMMUNE_KEYS, COMMUNE_SECTIONS, SettingsError, SettingsNode, parse_commune

__all__ = ["RosterStore", "RosterError", "roster_document"]

ROSTER_VERSION = 1


class RosterError(ValueError):
    """The roster file cannot be imported; the message names the problem."""


def portrait_path(officer_id: str) -> str:
    """Where a tablet downloads an officer's portrait."""
    return f"{API_PREFIX}/roster/portraits/{officer_id}"


def roster_document(tree: dict[str, Any], base_dir: Path) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
    """Check a roster tree and build the served document and the portraits.

    Returns the document and ``{officer_id: (image bytes, content type)}``.
    Raises :class:`RosterError`.
    """
    if not isinstance(tree, dict):
        raise RosterError("the roster file must be a mapping")
    counters = tree.get("counters")
    if counters is None and isinstance(tree.get("counter"), dict):
        counters = [tree["counter"]]
    if not isinstance(counters, list) or not counters:
        raise RosterError("counters: give at least one counter (id and name)")
    for i, counter in enumerate(counters):
        if not (isinstance(counter, dict) and all(isinstance(counter.get(k), str) for k in ("id", "name"))):
            raise RosterError(f"counters[{i}]: needs an id and a name")
    # The very rules every tablet applies to the commune's part of its settings.
    commune_tree = {k: v for k, v in tree.items() if k in COMMUNE_SECTIONS}
    try:
        commune = parse_commune(SettingsNode(commune_tree), base_dir)
    except SettingsError as exc:
        raise RosterError(str(exc)) from None
    images: dict[str, tuple[bytes, str]] = {}
    officers = []
    for officer in commune.officers:
        photo = None
        if officer.photo is not None:
            content = officer.photo.read_bytes()
            content_type = mimetypes.guess_type(officer.photo.name)[0] or "application/octet-stream"
            images[officer.id] = (content, content_type)
            photo = wire.RosterPhoto(hashlib.sha256(content).hexdigest(), content_type, portrait_path(officer.id))
        officers.append(wire.RosterOfficer(
            id=officer.id, name=officer.name, title=officer.title,
            active=officer.active, pin_hash=officer.pin_hash, photo=photo,
        ))
    document = wire.RosterDocument(
        version=ROSTER_VERSION,
        commune=wire.RosterCommune(name=commune.name, hotline=commune.hotline),
        counters=[wire.RosterCounter(id=c["id"], name=c["name"]) for c in counters],
        officers=officers,
        reasons=deepcopy(tree.get("reasons")) or {},
        settings={k: deepcopy(tree[k]) for k in COMMUNE_KEYS if k in tree},
    )
    return wire.to_wire(document), images


def etag_for(body: str) -> str:
    """A strong ETag: the digest of the served body."""
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:40] + '"'


class RosterStore:
    """The current roster and portraits, kept in the server database
    (:mod:`server.store.roster`). ``clock`` stamps each import."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now):
        self.engine = engine
        self.clock = clock

    def import_file(self, path: str | Path) -> dict[str, Any]:
        """Replace the roster with the one in a YAML file; returns the document."""
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as fh:
                tree = YAML(typ="safe").load(fh)
        except OSError as exc:
            raise RosterError(f"{path}: {exc.strerror}") from None
        except Exception as exc:
            raise RosterError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
        document, images = roster_document(tree, path.parent)
        self.save(document, images)
        return document

    def save(self, document: dict[str, Any], images: dict[str, tuple[bytes, str]]) -> str:
        """Store a checked roster document and its portraits; returns its ETag."""
        body = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        etag = etag_for(body)
        updated_at = utc_text(self.clock())

        def replace(conn: Connection) -> None:
            stored_roster.replace_roster(conn, body=body, etag=etag, updated_at=updated_at, images=images)

        # Two imports at once on PostgreSQL: the second's DELETE does not see
        # the row the first inserted, and its insert fails on the key; run
        # again, it replaces the first import's roster as SQLite's queue would.
        write_transaction(self.engine, replace)
        return etag

    def current(self) -> tuple[str, str] | None:
        """The served body and its ETag, or ``None`` before any import."""
        with self.engine.begin() as conn:
            return stored_roster.current_roster(conn)

    def portrait(self, officer_id: str) -> tuple[bytes, str, str] | None:
        """An officer's portrait: bytes, content type and ETag."""
        with self.engine.begin() as conn:
            found = stored_roster.portrait(conn, officer_id)
        if found is None:
            return None
        content, content_type, sha256 = found
        return content, content_type, f'"{sha256[:40]}"'
