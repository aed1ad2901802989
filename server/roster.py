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
import io
import json
import mimetypes
from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Connection, Engine

from server.clock import Clock, utc_now, utc_text
from server.store import read_transaction, write_transaction
from server.store import roster as stored_roster
from sync import wire
from sync.pin import device_pin_key, hash_pin, is_keyed_pin_hash, is_valid_pin, key_pin_hash
from sync.protocol import API_PREFIX
from sync.roster import (
    COMMUNE_KEYS,
    COMMUNE_SECTIONS,
    DEFAULT_HIGH_REASONS,
    DEFAULT_LOW_REASONS,
    Commune,
    SettingsError,
    SettingsNode,
    officer_id_for,
    parse_commune,
)

__all__ = [
    "RosterStore",
    "RosterError",
    "roster_document",
    "served_roster",
    "tree_of",
    "new_tree",
    "save_officer",
    "set_officer_pin",
    "save_counter",
    "remove_counter",
    "set_commune",
    "set_setting",
    "set_reasons",
    "commune_settings",
    "roster_changes",
    "portrait_from_upload",
    "PORTRAIT_SIDE",
]

# A portrait as tablets show it: a square, this many pixels a side.
PORTRAIT_SIDE = 512
# An upload larger than this (bytes, or pixels once decoded) is refused unread.
MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000

ROSTER_VERSION = 1


class RosterError(ValueError):
    """The roster cannot be imported or published; the message names the
    problem, starting with its key path (``officers[0].name: empty``).

    ``path`` is that key path, ``problem`` a code each end words in its own
    language (the tablets' :class:`~sync.roster.SettingsError` codes, plus
    the server's own: ``no_counter``, ``bad_pin``, ``photo_unreadable`` …)
    and ``values`` fill the wording."""

    def __init__(self, message: str, path: str = "", problem: str = "", **values: Any):
        super().__init__(message)
        self.path = path or message.split(":", 1)[0]
        self.problem = problem or "invalid"
        self.values = values


def portrait_path(officer_id: str) -> str:
    """Where a tablet downloads an officer's portrait."""
    return f"{API_PREFIX}/roster/portraits/{officer_id}"


def roster_document(
    tree: dict[str, Any], base_dir: Path, portraits: Mapping[str, tuple[bytes, str]] | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
    """Check a roster tree and build the served document and the portraits.

    An officer's portrait is the file its ``photo`` names (from ``base_dir``)
    or, without one, its entry in ``portraits`` (pictures kept from before).
    Returns the document and ``{officer_id: (image bytes, content type)}``.
    Raises :class:`RosterError`.
    """
    if not isinstance(tree, dict):
        raise RosterError("the roster file must be a mapping")
    counters = tree.get("counters")
    if counters is None and isinstance(tree.get("counter"), dict):
        counters = [tree["counter"]]
    if not isinstance(counters, list) or not counters:
        raise RosterError("counters: give at least one counter (id and name)", "counters", "no_counter")
    for i, counter in enumerate(counters):
        if not (isinstance(counter, dict) and all(isinstance(counter.get(k), str) for k in ("id", "name"))):
            raise RosterError(f"counters[{i}]: needs an id and a name", f"counters[{i}]", "counter_shape")
    # The very rules every tablet applies to the commune's part of its settings.
    commune_tree = {k: v for k, v in tree.items() if k in COMMUNE_SECTIONS}
    try:
        commune = parse_commune(SettingsNode(commune_tree), base_dir)
    except SettingsError as exc:
        raise RosterError(str(exc), exc.path, exc.problem, **exc.values) from None
    images: dict[str, tuple[bytes, str]] = {}
    officers = []
    for officer in commune.officers:
        photo = None
        if officer.photo is not None:
            content = officer.photo.read_bytes()
            content_type = mimetypes.guess_type(officer.photo.name)[0] or "application/octet-stream"
            images[officer.id] = (content, content_type)
        elif portraits and officer.id in portraits:
            images[officer.id] = portraits[officer.id]
        if officer.id in images:
            content, content_type = images[officer.id]
            photo = wire.RosterPhoto(hashlib.sha256(content).hexdigest(), content_type, portrait_path(officer.id))
        if officer.pin_hash is not None and is_keyed_pin_hash(officer.pin_hash):
            # A verifier keyed to one tablet (copied from its roster file) cannot
            # be keyed again for the others: the PIN has to be set anew.
            where = f"officers[{commune.officers.index(officer)}].pin_hash"
            raise RosterError(f"{where}: a tablet's keyed PIN verifier; set the PIN again", where, "bad_pin_hash")
        if officer.counter is not None and officer.counter not in {c["id"] for c in counters}:
            where = f"officers[{commune.officers.index(officer)}].counter"
            raise RosterError(f"{where}: no counter {officer.counter}", where, "no_such_counter", id=officer.counter)
        officers.append(wire.RosterOfficer(
            id=officer.id, name=officer.name, title=officer.title,
            active=officer.active, pin_hash=officer.pin_hash, photo=photo, counter=officer.counter,
        ))
    document = wire.RosterDocument(
        version=ROSTER_VERSION,
        commune=wire.RosterCommune(name=commune.name, hotline=commune.hotline, leaders=commune.leaders),
        counters=[wire.RosterCounter(id=c["id"], name=c["name"]) for c in counters],
        officers=officers,
        reasons=deepcopy(tree.get("reasons")) or {},
        settings={k: deepcopy(tree[k]) for k in COMMUNE_KEYS if k in tree},
    )
    return wire.to_wire(document), images


def served_roster(body: str, device_secret: str, public_url: str | None = None,
                  callback_key: str | None = None, callback_retention_months: int | None = None) -> tuple[str, str]:
    """The roster as one device receives it, and its ETag.

    Every officer's PIN verifier is keyed to that device's secret
    (:func:`sync.pin.key_pin_hash`) and the document's version says so
    (:data:`sync.wire.ROSTER_KEYED_PINS`): what travels lets only the tablet
    holding that secret check a PIN. The server's public address, when it
    has one, goes with it (tablets point their comment QR codes there), and
    so does the public key call-back numbers are sealed to
    (:mod:`server.callback_numbers`), for tablets paired before it existed.
    """
    document = json.loads(body)
    key = device_pin_key(device_secret)
    for officer in document.get("officers") or []:
        if officer.get("pin_hash"):
            officer["pin_hash"] = key_pin_hash(officer["pin_hash"], key)
    document["version"] = max(int(document.get("version") or 1), wire.ROSTER_KEYED_PINS)
    if public_url:
        document["public_url"] = public_url.rstrip("/")
    if callback_key:
        document["callback_key"] = callback_key
    if callback_retention_months:
        document["callback_retention_months"] = callback_retention_months
    served = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return served, etag_for(served)


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

    def save(self, document: dict[str, Any], images: dict[str, tuple[bytes, str]], *,
             based_on: str | None = None) -> str:
        """Store a checked roster document and its portraits; returns its ETag.

        ``based_on``: the ETag of the roster the document was edited from
        (``""``: none yet). Should another change have been stored since, in
        the moment between reading and saving, nothing is stored and
        :class:`RosterError` (``changed_meanwhile``) says so, rather than one
        of the two changes being lost without a word."""
        body = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        etag = etag_for(body)
        updated_at = utc_text(self.clock())

        def replace(conn: Connection) -> None:
            if based_on is not None:
                current = stored_roster.current_roster(conn)
                if (current[1] if current else "") != based_on:
                    raise RosterError("roster: changed by someone else meanwhile", "roster", "changed_meanwhile")
            stored_roster.replace_roster(conn, body=body, etag=etag, updated_at=updated_at, images=images)

        # Two imports at once on PostgreSQL: the second's DELETE does not see
        # the row the first inserted, and its insert fails on the key; run
        # again, it replaces the first import's roster as SQLite's queue would.
        write_transaction(self.engine, replace)
        return etag

    def editable(self) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
        """The current roster as an editable tree, and its portraits; an empty
        tree (no counter, no officer) before any roster exists."""
        tree, portraits, _ = self.editable_at()
        return tree, portraits

    def editable_at(self) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]], str]:
        """:meth:`editable`, with the ETag of the roster read (``""``: none
        yet), all read at one moment: what :meth:`publish` takes as
        ``based_on``."""
        with read_transaction(self.engine) as conn:
            current = stored_roster.current_roster(conn)
            portraits = stored_roster.all_portraits(conn)
        if current is None:
            return new_tree(""), {}, ""
        return tree_of(json.loads(current[0])), portraits, current[1]

    def publish(self, tree: dict[str, Any], portraits: Mapping[str, tuple[bytes, str]], *,
                based_on: str | None = None) -> dict[str, Any]:
        """Check an edited tree with the tablets' rules and make it the roster
        every tablet fetches next; returns the document. Portraits of officers
        no longer on the roster are dropped. Raises :class:`RosterError`
        (``changed_meanwhile`` too: see :meth:`save` for ``based_on``)."""
        document, images = roster_document(tree, Path.cwd(), portraits)
        self.save(document, images, based_on=based_on)
        return document

    def current(self) -> tuple[str, str] | None:
        """The served body and its ETag, or ``None`` before any import
        (read without the write lock, as every read a tablet's request makes)."""
        with read_transaction(self.engine) as conn:
            return stored_roster.current_roster(conn)

    def portrait(self, officer_id: str) -> tuple[bytes, str, str] | None:
        """An officer's portrait: bytes, content type and ETag."""
        with read_transaction(self.engine) as conn:
            found = stored_roster.portrait(conn, officer_id)
        if found is None:
            return None
        content, content_type, sha256 = found
        return content, content_type, f'"{sha256[:40]}"'


# -- editing the roster (the dashboard) --------------------------------------------------


def new_tree(commune_name: str) -> dict[str, Any]:
    """A roster with nothing on it yet: it is published once it has a counter
    and an active officer."""
    return {"commune": {"name": commune_name}, "counters": [], "officers": []}


def tree_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The editable tree (shaped like an import file) behind a served document."""
    commune = {k: v for k, v in document["commune"].items() if v}
    officers = [
        {k: v for k, v in o.items() if k in ("id", "name", "title", "active", "pin_hash", "counter") and v is not None}
        for o in document["officers"]
    ]
    tree: dict[str, Any] = {
        "commune": commune,
        "counters": [dict(c) for c in document["counters"]],
        "officers": officers,
    }
    if document.get("reasons"):
        tree["reasons"] = deepcopy(document["reasons"])
    tree.update(deepcopy(document.get("settings") or {}))
    return tree


def _officer(tree: dict[str, Any], officer_id: str) -> dict[str, Any]:
    for officer in tree["officers"]:
        if officer["id"] == officer_id:
            return officer
    raise RosterError(f"officers: no officer {officer_id}", "officers", "no_such_officer", id=officer_id)


def save_officer(tree: dict[str, Any], officer_id: str | None, *, name: str, title: str, active: bool = True,
                 counter: str | None = None) -> str:
    """Add an officer (``officer_id`` None: the id is made from the name) or
    change one, with the counter they usually serve at (None: none); returns
    the id. The tree is checked when it is published."""
    if officer_id is None:
        officer_id = officer_id_for(name, [o["id"] for o in tree["officers"]])
        tree["officers"].append({"id": officer_id})
    officer = _officer(tree, officer_id)
    officer.update(name=name, title=title, active=active)
    if counter:
        officer["counter"] = counter
    else:
        officer.pop("counter", None)
    return officer_id


def set_officer_pin(tree: dict[str, Any], officer_id: str, pin: str) -> None:
    """Give an officer a new PIN, kept only as its verifier."""
    if not is_valid_pin(pin):
        raise RosterError("pin: 4 to 8 digits", "pin", "bad_pin")
    _officer(tree, officer_id)["pin_hash"] = hash_pin(pin)


def save_counter(tree: dict[str, Any], counter_id: str | None, name: str) -> str:
    """Add a counter (its id made from the name) or rename one; returns the id."""
    if not name.strip():
        raise RosterError("counters: the name is empty", "counters", "empty")
    if counter_id is None:
        counter_id = officer_id_for(name, [c["id"] for c in tree["counters"]])
        tree["counters"].append({"id": counter_id, "name": name.strip()})
        return counter_id
    for counter in tree["counters"]:
        if counter["id"] == counter_id:
            counter["name"] = name.strip()
            return counter_id
    raise RosterError(f"counters: no counter {counter_id}", "counters", "no_such_counter", id=counter_id)


def remove_counter(tree: dict[str, Any], counter_id: str) -> None:
    """Take a counter off the roster (at least one must stay); officers who
    served at it no longer have a counter."""
    tree["counters"] = [c for c in tree["counters"] if c["id"] != counter_id]
    for officer in tree["officers"]:
        if officer.get("counter") == counter_id:
            del officer["counter"]


def set_commune(tree: dict[str, Any], name: str, hotline: str, leaders: str = "") -> None:
    """The commune's name, the leaders' hotline, and who calls citizens back
    (named in the tablet's consent text; empty: "the commune's leaders")."""
    pairs = (("name", name), ("hotline", hotline), ("leaders", " ".join(leaders.split())))
    tree["commune"] = {k: v.strip() for k, v in pairs if v.strip()}


def set_setting(tree: dict[str, Any], section: str, key: str | None, value: Any) -> None:
    """One commune-wide setting (:data:`sync.roster.COMMUNE_KEYS`), e.g.
    ``("rating", "scale", 5)`` or ``("language", None, "vi")``."""
    if section not in COMMUNE_KEYS:
        raise RosterError(f"{section}: not a commune-wide setting", section, "unknown_key")
    # None takes the setting off: the tablets' default applies (a weekday
    # without hours is closed).
    if key is None:
        if value is None:
            tree.pop(section, None)
        else:
            tree[section] = value
    elif value is None:
        tree.get(section, {}).pop(key, None)
    else:
        tree.setdefault(section, {})[key] = value


def set_reasons(tree: dict[str, Any], kind: str, reason_ids: list[str]) -> None:
    """The reasons offered after a ``low`` or ``high`` rating, by id.

    Reasons already on the list keep their place (and a commune's own
    reason its words); built-in ones added go after them."""
    if kind not in ("low", "high"):
        raise RosterError(f"reasons.{kind}: not a reasons list", f"reasons.{kind}", "unknown_key")
    current = (tree.get("reasons") or {}).get(kind)
    if current is None:
        current = list(DEFAULT_LOW_REASONS if kind == "low" else DEFAULT_HIGH_REASONS)
    wanted = list(dict.fromkeys(reason_ids))
    kept = [r for r in current if _reason_id(r) in wanted]
    kept_ids = {_reason_id(r) for r in kept}
    kept += [r for r in wanted if r not in kept_ids]
    tree.setdefault("reasons", {})[kind] = kept


def _reason_id(reason: Any) -> str:
    return reason.get("id", "") if isinstance(reason, dict) else str(reason)


def commune_settings(tree: dict[str, Any]) -> Commune | None:
    """The commune-wide settings of a tree as the tablets read them (their
    defaults filled in), or None when the tree does not pass their rules."""
    try:
        return parse_commune(SettingsNode({k: v for k, v in tree.items() if k in COMMUNE_SECTIONS}), Path.cwd())
    except SettingsError:
        return None


def roster_changes(before: tuple[dict[str, Any], Mapping[str, tuple[bytes, str]]],
                   after: tuple[dict[str, Any], Mapping[str, tuple[bytes, str]]]) -> list[str]:
    """What an edit changed, one line per key path, for the audit log:
    ``officers[an].title: "A" → "B"``. A PIN is never written, not even its
    verifier: only that it was set or changed; a portrait only as new or changed."""
    old, new = _flat(*before), _flat(*after)
    lines = []
    for key in sorted(old.keys() | new.keys(), key=_change_order):
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        if key.endswith((".pin", ".photo")):
            state = "removed" if now is None else ("set" if was is None else "changed")
            lines.append(f"{key}: {state}")
        else:
            lines.append(f"{key}: {_shown(was)} → {_shown(now)}")
    return lines


def _change_order(key: str) -> tuple[int, str]:
    order = ("commune", "counters", "officers", "reasons")
    head = key.split("[", 1)[0].split(".", 1)[0]
    return (order.index(head) if head in order else len(order), key)


def _shown(value: str | None) -> str:
    return "—" if value is None else value


def _flat(tree: dict[str, Any], portraits: Mapping[str, tuple[bytes, str]]) -> dict[str, str]:
    """A tree as ``key path → text`` (JSON, as the audit log shows it), to compare two of them."""

    def text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    flat: dict[str, str] = {}
    for key in ("name", "hotline", "leaders"):
        if (tree.get("commune") or {}).get(key):
            flat[f"commune.{key}"] = text(tree["commune"][key])
    for counter in tree.get("counters") or []:
        flat[f"counters[{counter.get('id')}]"] = text(counter.get("name"))
    for officer in tree.get("officers") or []:
        at = f"officers[{officer.get('id')}]"
        flat[f"{at}.name"] = text(officer.get("name", ""))
        flat[f"{at}.title"] = text(officer.get("title", ""))
        flat[f"{at}.active"] = "yes" if officer.get("active", True) else "no"
        if officer.get("counter"):
            flat[f"{at}.counter"] = text(officer["counter"])
        if officer.get("pin_hash"):
            flat[f"{at}.pin"] = str(officer["pin_hash"])
        if officer.get("id") in portraits:
            flat[f"{at}.photo"] = hashlib.sha256(portraits[officer["id"]][0]).hexdigest()
    for kind, reasons in (tree.get("reasons") or {}).items():
        flat[f"reasons.{kind}"] = ", ".join(_reason_id(r) for r in reasons or [])
    for section in COMMUNE_KEYS:
        value = tree.get(section)
        if isinstance(value, dict):
            for key, item in value.items():
                flat[f"{section}.{key}"] = text(item)
        elif value is not None:
            flat[section] = text(value)
    return flat


def portrait_from_upload(data: bytes, crop: tuple[int, int, int] | None = None) -> tuple[bytes, str]:
    """An uploaded picture as a tablet portrait: upright (EXIF), cropped to a
    square (``crop`` = left, top, side in the picture's pixels; else the
    centre), resized to :data:`PORTRAIT_SIDE` and saved as JPEG.

    Raises :class:`RosterError` for anything that is not a readable picture.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_UPLOAD_BYTES:
        raise RosterError(f"photo: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", "photo", "photo_too_large",
                          mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_UPLOAD_PIXELS:
                raise RosterError("photo: too many pixels", "photo", "photo_too_many_pixels")
            picture = ImageOps.exif_transpose(probe)
            picture.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise RosterError("photo: not a picture this server can read (JPEG, PNG or WebP)", "photo",
                          "photo_unreadable") from None
    if crop is None:
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
    else:
        left, top, side = crop
        if side <= 0 or left < 0 or top < 0 or left + side > picture.width or top + side > picture.height:
            raise RosterError("photo: the crop falls outside the picture", "photo", "photo_crop_outside")
    square = picture.crop((left, top, left + side, top + side)).convert("RGB")
    square = square.resize((PORTRAIT_SIDE, PORTRAIT_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue(), "image/jpeg"
