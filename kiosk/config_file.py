"""Changing ``config.yaml`` from the technician's panel, safely.

Every change goes the same way:

1. the file is read afresh (round-trip, so its comments and layout are kept);
2. the change is made to that tree;
3. the text that *would* be written is read back with the same loader
   ``load_settings`` uses and checked with :func:`kiosk.config.parse_settings`,
   so a value the kiosk would refuse at start-up is refused here, with the
   same :class:`~kiosk.config.ConfigError` naming the key, and the file is left
   byte for byte as it was;
4. the text is written to a temporary file beside it, synced, and moved over
   the old file in one step, so a power cut leaves either the old file or the
   new one, never half of each.

Each method returns the new :class:`~kiosk.config.Settings`, for the app to
apply at once without a restart. Nothing here imports Kivy.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from kiosk.config import ConfigError, Settings, parse_settings
from kiosk.files import write_atomically
from kiosk.i18n import catalogue
from sync import pin
from sync.roster import SLUG

__all__ = ["ConfigFile", "RosterLocked", "PORTRAIT_DIR", "PORTRAIT_SIZE"]

PORTRAIT_DIR = Path("assets") / "portraits"
"""Where officers' portraits go, relative to the config file."""

PORTRAIT_SIZE = 512
"""Longest side of a stored portrait, in pixels. A camera photo is shrunk to
this: the idle screen shows it a few centimetres wide, and a tablet should not
decode a 12-megapixel picture every time the idle screen appears."""


class RosterLocked(Exception):
    """The roster comes from the commune server; it cannot be changed here."""

    def message(self, language: str) -> str:
        return catalogue(language).get("roster.locked")

    def __str__(self) -> str:
        return f"{self.message('vi')} ({self.message('en')})"


def _round_trip_yaml() -> YAML:
    """The emitter settings that keep a technician's file as they wrote it."""
    yaml = YAML()  # round-trip: keeps comments and layout
    # Keep quotes ("07:30-11:30" in a flow list does not parse unquoted), the
    # shipped file's indentation, and long lines unfolded (a folded PIN hash
    # does not parse back either).
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _quoted(value: Any) -> Any:
    """A value from the panel, ready for the round-trip emitter.

    Strings are double-quoted: times such as ``07:30-11:30``, phone numbers
    with a leading zero and words like ``no`` must stay strings when the file
    is read back. Lists and mappings are converted member by member.
    """
    if isinstance(value, str):
        return DoubleQuotedScalarString(value)
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _quoted(item)
        return out
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_quoted(item) for item in value)
    return value


class ConfigFile:
    """One ``config.yaml`` on disk, changed only through validated, atomic writes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- settings ------------------------------------------------------------

    def set_values(self, changes: dict[str, Any]) -> Settings:
        """Set several settings at once, by dotted path (``"commune.name"``,
        ``"rating.scale"``, ``"working_hours.mon"``, ``"reasons.low"``, ...).

        All changes are checked together and written together, or none is.
        ``None`` empties a key (``server.url: None`` means "no server"); a
        required key left empty is refused like a missing one. Raises
        :class:`ConfigError` naming the first bad key.
        """
        tree = self._load()
        for dotted, value in changes.items():
            _set_path(tree, dotted, value)
        return self._commit(tree)

    def set_technician_pin(self, new_pin: str) -> Settings:
        """Set the technician's PIN (4 to 8 digits), stored as a salted hash."""
        _check_pin(new_pin, "technician.pin_hash")
        return self.set_pin_hash(pin.hash_pin(new_pin), officer=None)

    def set_pin_hash(self, pin_hash: str, *, officer: str | None) -> Settings:
        """Write an already-made PIN hash for an officer, or for the technician
        when ``officer`` is ``None``. ``python -m kiosk.pin`` goes through here."""
        tree = self._load()
        if officer is None:
            if not isinstance(tree.get("technician"), dict):
                tree["technician"] = CommentedMap()
            tree["technician"]["pin_hash"] = DoubleQuotedScalarString(pin_hash)
        else:
            self._officer_node(tree, officer)["pin_hash"] = DoubleQuotedScalarString(pin_hash)
        return self._commit(tree)

    # -- the roster ------------------------------------------------------------

    def add_officer(
        self,
        officer_id: str,
        name: str,
        title: str,
        photo: Path | None = None,
        *,
        roster_locked: bool = False,
    ) -> Settings:
        """Add an active officer to the roster.

        The portrait is taken from ``photo`` (any picture Pillow reads: shrunk,
        turned upright, stored as PNG) or, without one, drawn as a placeholder
        with the officer's initials. It is stored as
        ``assets/portraits/<id>.png`` beside the config file.
        """
        _refuse_if_locked(roster_locked)
        tree = self._load()
        officers = tree.get("officers")
        if not isinstance(officers, list):
            officers = tree["officers"] = CommentedSeq()
        entry = CommentedMap()
        entry["id"] = DoubleQuotedScalarString(officer_id) if not _is_plain_slug(officer_id) else officer_id
        entry["name"] = DoubleQuotedScalarString(name)
        entry["title"] = DoubleQuotedScalarString(title)
        officers.append(entry)
        return self._commit_with_portrait(tree, entry, officer_id, photo, name)

    def set_officer_active(self, officer_id: str, active: bool, *, roster_locked: bool = False) -> Settings:
        """Deactivate an officer (kept in the roster, so their past ratings keep
        a name) or make them active again. The last active officer cannot be
        deactivated: the check refuses a roster with nobody to rate."""
        _refuse_if_locked(roster_locked)
        tree = self._load()
        node = self._officer_node(tree, officer_id)
        if active and "active" in node:
            # Active is the default: drop the key rather than spell it out.
            del node["active"]
        elif not active:
            node["active"] = False
        return self._commit(tree)

    def set_officer_pin(self, officer_id: str, new_pin: str, *, roster_locked: bool = False) -> Settings:
        """Set or reset an officer's PIN (4 to 8 digits), stored as a salted hash."""
        _refuse_if_locked(roster_locked)
        tree = self._load()
        index = self._officer_index(tree, officer_id)
        _check_pin(new_pin, f"officers[{index}].pin_hash")
        tree["officers"][index]["pin_hash"] = DoubleQuotedScalarString(pin.hash_pin(new_pin))
        return self._commit(tree)

    def set_officer_photo(self, officer_id: str, source: Path, *, roster_locked: bool = False) -> Settings:
        """Replace an officer's portrait with a picture from a file (e.g. on a USB stick)."""
        _refuse_if_locked(roster_locked)
        tree = self._load()
        node = self._officer_node(tree, officer_id)
        return self._commit_with_portrait(tree, node, officer_id, Path(source), str(node.get("name", "")))

    # -- reading and writing -----------------------------------------------------

    def _load(self) -> CommentedMap:
        """The file as a round-trip tree, read afresh so nobody's edit is lost."""
        if not self.path.is_file():
            raise ConfigError(str(self.path), "no_config", file=str(self.path))
        try:
            with open(self.path, encoding="utf-8") as fh:
                tree = _round_trip_yaml().load(fh)
        except YAMLError as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(self.path.name, "not_yaml", problem=problem) from None
        if tree is None:
            tree = CommentedMap()
        if not isinstance(tree, dict):
            raise ConfigError("config", "wrong_type", expected="type_mapping")
        return tree

    def _render(self, tree: CommentedMap) -> tuple[str, Settings]:
        """The text to write and the settings it gives, checked the way the
        kiosk will read it at its next start."""
        buffer = io.StringIO()
        _round_trip_yaml().dump(tree, buffer)
        text = buffer.getvalue()
        try:
            plain = YAML(typ="safe").load(text)
        except YAMLError as exc:  # the emitter wrote something unreadable
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(self.path.name, "not_yaml", problem=problem) from None
        settings = parse_settings(plain, base_dir=self.path.parent, source=self.path)
        return text, settings

    def _commit(self, tree: CommentedMap) -> Settings:
        text, settings = self._render(tree)
        self._write(text)
        return settings

    def _write(self, text: str) -> None:
        """Replace the file atomically, keeping who may read it."""
        write_atomically(self.path, text.encode("utf-8"))

    def _commit_with_portrait(
        self, tree: CommentedMap, entry: CommentedMap, officer_id: str, source: Path | None, name: str
    ) -> Settings:
        """Store a portrait and point ``entry`` at it, only if the whole tree is valid.

        The picture is made under a temporary name first and the tree is checked
        pointing at it; only then does it replace the officer's portrait and
        the config file get written. A refused change leaves no new file.
        """
        relative = (PORTRAIT_DIR / f"{officer_id}.png").as_posix()
        if not _is_plain_slug(officer_id):
            # Refuse a bad id before a file name is made from it.
            entry["photo"] = None
            self._render(tree)
        final = self.path.parent / relative
        tmp = final.with_name(final.name + ".tmp")
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            if source is None:
                from kiosk.portraits import draw_portrait

                draw_portrait(name or officer_id, tmp)
            else:
                _store_portrait(source, tmp, entry_path=f"{_officer_path(tree, officer_id)}.photo")
            entry["photo"] = DoubleQuotedScalarString(tmp.relative_to(self.path.parent).as_posix())
            self._render(tree)  # raises ConfigError: no portrait replaced, no file written
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        entry["photo"] = DoubleQuotedScalarString(relative)
        return self._commit(tree)

    # -- finding officers ----------------------------------------------------------

    def _officer_index(self, tree: CommentedMap, officer_id: str) -> int:
        for index, node in enumerate(tree.get("officers") or []):
            if isinstance(node, dict) and node.get("id") == officer_id:
                return index
        raise ConfigError("officers", "no_such_officer", id=officer_id)

    def _officer_node(self, tree: CommentedMap, officer_id: str) -> CommentedMap:
        return tree["officers"][self._officer_index(tree, officer_id)]


def _officer_path(tree: CommentedMap, officer_id: str) -> str:
    for index, node in enumerate(tree.get("officers") or []):
        if isinstance(node, dict) and node.get("id") == officer_id:
            return f"officers[{index}]"
    return "officers"


def _is_plain_slug(value: str) -> bool:
    return bool(SLUG.match(value))  # the very rule the settings check applies


def _refuse_if_locked(roster_locked: bool) -> None:
    if roster_locked:
        raise RosterLocked()


def _check_pin(new_pin: str, path: str) -> None:
    if not pin.is_valid_pin(new_pin):
        raise ConfigError(path, "bad_pin")


def _set_path(tree: CommentedMap, dotted: str, value: Any) -> None:
    """Set ``value`` at a dotted path, making the mappings on the way."""
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(dotted, "unknown_key")
    node: Any = tree
    walked: list[str] = []
    for key in keys[:-1]:
        walked.append(key)
        child = node.get(key)
        if child is None:
            child = node[key] = CommentedMap()
        elif not isinstance(child, dict):
            raise ConfigError(".".join(walked), "wrong_type", expected="type_mapping")
        node = child
    key = keys[-1]
    old = node.get(key)
    new = _quoted(value)
    # A list written on one line stays on one line (working hours, reasons);
    # a new one follows its neighbours (a Sunday added beside the weekdays).
    if isinstance(new, CommentedSeq):
        like = [old] if isinstance(old, CommentedSeq) else [v for v in node.values() if isinstance(v, CommentedSeq)]
        if like and like[0].fa.flow_style():
            new.fa.set_flow_style()
    node[key] = new


def _store_portrait(source: Path, target: Path, *, entry_path: str) -> None:
    """Read a picture, turn it upright, shrink it and save it as PNG.

    A file Pillow cannot read is refused with a :class:`ConfigError` on the
    officer's ``photo`` key, as a missing file is at start-up. A failure to
    write (a full disk) is an ``OSError`` and is not dressed up as a bad picture.
    """
    from PIL import Image, ImageOps

    if not source.is_file():
        raise ConfigError(entry_path, "no_file", file=str(source))
    try:
        with Image.open(source) as image:
            # Phone cameras often store the picture sideways plus a rotation tag.
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((PORTRAIT_SIZE, PORTRAIT_SIZE))
            if upright.mode not in ("RGB", "RGBA"):
                upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # Pillow raises the first three for unreadable or truncated pictures,
        # the last for one so large that decoding it could exhaust memory.
        raise ConfigError(entry_path, "not_image", file=source.name) from None
    upright.save(target, "PNG", optimize=True)


