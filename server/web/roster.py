"""The roster on the web: the commune (name, hotline), its counters, its
officers (Vietnamese names, titles, PINs, portraits uploaded and cropped,
active or not) and the commune-wide settings every tablet takes.

The admin edits, the leader reads; nobody else sees it. Every change goes
through :mod:`server.roster` (edit the tree, then
:meth:`~server.roster.RosterStore.publish`, which checks it with the
tablets' own rules), is audited with what changed (never a PIN), and
reaches the tablets at their next roster sync. A refused change shows the
problem next to its form, in the page's language with its key path, and the
form keeps what was typed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import roster as editing
from server.accounts import Account, AccountBook, Role
from server.deps import get_rosters
from server.i18n import Translate, translator
from server.roster import MAX_UPLOAD_BYTES, RosterError, RosterStore
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.render import page, register_nav, request_language
from sync.roster import (
    BUILTIN_REASONS,
    DEFAULT_HIGH_REASONS,
    DEFAULT_LOW_REASONS,
    LANGUAGES,
    SCALE_SIZES,
    TIMEOUT_NAMES,
    WEEKDAYS,
    Commune,
    Reason,
)

__all__ = ["router", "problem_text"]

router = APIRouter(include_in_schema=False)
register_nav("/roster", "roster.nav", (Role.ADMIN, Role.LEADER), order=60)

_NOTICES = {"setup", "commune", "counter_added", "counter_renamed", "counter_removed", "officer_added",
            "officer_saved", "settings", "unchanged"}
_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_TEXT = 200

ADMIN = Depends(require(Role.ADMIN))
READERS = Depends(require(Role.ADMIN, Role.LEADER))


@dataclass
class Refusal:
    """A change refused: which form it came from, the message, the field at fault."""

    form: str
    message: str
    field: str = ""
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What was typed, to fill the form again."""


def problem_text(t: Translate, error: RosterError) -> str:
    """A refused change in the page's language, its key path first:
    ``officers[6].name: không được để trống``."""
    key = f"roster.problem.{error.problem}"
    values = dict(error.values)
    if "expected" in values:
        values["expected"] = t(f"roster.problem.{values['expected']}")
    text = t(key, **values)
    if text == key:  # a problem without words of its own: the message as the server wrote it
        return str(error)
    # A problem of the whole roster (saved by someone else meanwhile) names no field.
    return text if error.path == "roster" else f"{error.path}: {text}"


def _field_of(error: RosterError) -> str:
    """The form field a key path points at (``officers[2].title`` → ``title``)."""
    last = error.path.rsplit(".", 1)[-1]
    if error.path.startswith("commune."):
        return f"commune_{last}"
    if error.path.startswith("officers[") and "." in error.path:
        return last
    if error.path in ("pin", "photo"):
        return error.path
    return ""


# -- reading ----------------------------------------------------------------------


def _officer_rows(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The officers as the pages list them: with whether a PIN is set and their portrait's version."""
    rows = []
    for officer in (document or {}).get("officers") or []:
        photo = officer.get("photo") or {}
        rows.append({"id": officer["id"], "name": officer["name"], "title": officer["title"],
                     "active": officer.get("active", True), "has_pin": bool(officer.get("pin_hash")),
                     "photo": (photo.get("sha256") or "")[:16], "counter": officer.get("counter") or ""})
    return rows


def _current_document(rosters: RosterStore) -> dict[str, Any] | None:
    current = rosters.current()
    return json.loads(current[0]) if current else None


def _reason_label(reason: Any, lang: str, t: Translate) -> str:
    """A reason's words: a commune's own reason carries them, a built-in one is in the catalogue."""
    if isinstance(reason, Reason):
        reason = {"id": reason.id, **reason.labels} if reason.labels else reason.id
    if isinstance(reason, dict):
        return str(reason.get(lang) or reason.get("vi") or reason.get("id"))
    return t(f"roster.reason.{reason}")


def _reason_choices(tree: dict[str, Any], kind: str, lang: str, t: Translate) -> list[dict[str, str]]:
    """The reasons an admin may offer after a ``low`` or ``high`` rating: the
    built-in ones, and the commune's own ones already on the list."""
    defaults = DEFAULT_LOW_REASONS if kind == "low" else DEFAULT_HIGH_REASONS
    current = (tree.get("reasons") or {}).get(kind)
    # A list offers its own kind of built-in reasons (no praise after a poor
    # rating), and keeps whatever the commune already put on it.
    extra = [r for r in (current or []) if isinstance(r, dict) or (r in BUILTIN_REASONS and r not in defaults)]
    return ([{"id": r, "label": _reason_label(r, lang, t)} for r in defaults]
            + [{"id": r["id"] if isinstance(r, dict) else r, "label": _reason_label(r, lang, t)} for r in extra])


def _settings_form(tree: dict[str, Any], commune: Commune | None) -> dict[str, Any]:
    """The settings form's values as the tablets read the tree (their defaults filled in)."""
    hours = tree.get("working_hours") or {}
    form: dict[str, Any] = {f"hours_{day}": ", ".join(hours.get(day) or []) for day in WEEKDAYS}
    if commune is None:
        return form
    form.update(
        scale=str(commune.scale), burst_interval_s=_number_text(commune.burst_interval_s),
        reasons_on_high=commune.reasons_on_high, enforce=commune.working_hours.enforce,
        language=commune.language,
        low=[r.id for r in commune.low_reasons], high=[r.id for r in commune.high_reasons],
        **{f"timeout_{name}": _number_text(getattr(commune.timeouts, name)) for name in TIMEOUT_NAMES},
    )
    return form


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _roster_page(request: Request, rosters: RosterStore, account: Account, *, status_code: int = 200,
                 notice: str | None = None, refusal: Refusal | None = None) -> HTMLResponse:
    document = _current_document(rosters)
    lang = request_language(request)
    t = translator(lang)
    if document is None:
        return page(request, "roster_setup.html", status_code=status_code, refusal=refusal,
                    form=refusal.values if refusal else {}, editable=account.role is Role.ADMIN)
    tree = editing.tree_of(document)
    commune = editing.commune_settings(tree)
    reasons = {kind: [_reason_label(r, lang, t) for r in (getattr(commune, f"{kind}_reasons") if commune else ())]
               for kind in ("low", "high")}
    return page(request, "roster.html", status_code=status_code, document=document,
                officers=_officer_rows(document), settings=commune, reasons=reasons,
                hours=_settings_form(tree, commune), weekdays=WEEKDAYS, timeout_names=TIMEOUT_NAMES,
                editable=account.role is Role.ADMIN, notice=notice if notice in _NOTICES else None,
                refusal=refusal)


# -- changing -----------------------------------------------------------------------

@dataclass(frozen=True)
class Edit:
    """The roster as an edit found it: a copy of its tree and portraits (to
    audit the difference) and its ETag (to publish over that very roster
    only: two admins saving at one moment must not lose one change)."""

    tree: dict[str, Any]
    portraits: dict[str, tuple[bytes, str]]
    etag: str


NO_ROSTER = Edit({}, {}, "")
"""What the first roster is made over: nothing."""


def _editable(rosters: RosterStore) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]], Edit]:
    """The tree and portraits to edit, and how they were (:class:`Edit`)."""
    tree, portraits, etag = rosters.editable_at()
    return tree, dict(portraits), Edit(deepcopy(tree), dict(portraits), etag)


def _missing(request: Request) -> HTMLResponse:
    return page(request, "roster_missing.html", status_code=404)


def _publish(request: Request, rosters: RosterStore, accounts: AccountBook, account: Account, action: str,
             target: str, before: Edit, tree: dict[str, Any], portraits: Mapping[str, tuple[bytes, str]]) -> bool:
    """Publish an edited tree and audit what changed; False when nothing did."""
    changes = editing.roster_changes((before.tree, before.portraits), (tree, portraits))
    if not changes and before.etag:  # nothing to publish over a roster that exists
        return False
    rosters.publish(tree, portraits, based_on=before.etag)
    accounts.audit(account.username, action, target, "; ".join(changes), client_address(request))
    return True


def _upload(photo: UploadFile | None) -> bytes:
    """An uploaded file's bytes (empty when none was chosen); refused beyond the limit unread."""
    if photo is None or not photo.filename:
        return b""
    data = photo.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise RosterError("photo: too large", "photo", "photo_too_large", mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    return data


def _crop(left: str, top: str, side: str) -> tuple[int, int, int] | None:
    """The square the admin kept (our script fills these fields), or None: the centre."""
    try:
        return int(left), int(top), int(side)
    except ValueError:
        return None


def _portrait(photo: UploadFile | None, crop: tuple[int, int, int] | None,
              kept_photo: str) -> tuple[bytes, str] | None:
    """The portrait from this submission: a new upload, or the one kept from a refused submission."""
    data = _upload(photo)
    if data:
        return editing.portrait_from_upload(data, crop)
    if kept_photo:
        try:
            kept = base64.b64decode(kept_photo, validate=True)
        except (binascii.Error, ValueError):
            return None
        return editing.portrait_from_upload(kept)
    return None


def _check_pin(pin: str, pin_again: str) -> None:
    if pin != pin_again:
        raise RosterError("pin: the two PINs differ", "pin", "pin_mismatch")


# -- the pages ------------------------------------------------------------------------


@router.get("/roster", response_class=HTMLResponse)
def roster_page(request: Request, notice: str | None = Query(None, max_length=30), account: Account = READERS,
                rosters: RosterStore = Depends(get_rosters)) -> HTMLResponse:
    """The commune, counters, officers and settings; a first-time form when
    there is no roster yet. (Admin: edit; leader: read.)"""
    return _roster_page(request, rosters, account, notice=notice)


@router.get("/roster/portraits/{officer_id}")
def roster_portrait(officer_id: str = Path(max_length=120, pattern=_ID), _account: Account = READERS,
                    rosters: RosterStore = Depends(get_rosters)) -> Response:
    """An officer's portrait as the tablets get it. (Admin, leader.)"""
    found = rosters.portrait(officer_id)
    if found is None:
        return Response(status_code=404)
    content, content_type, etag = found
    # The page asks for it with its digest in the address: a new portrait is a new address.
    return Response(content, media_type=content_type, headers={
        "ETag": etag, "Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


@router.post("/roster/setup")
def roster_setup(request: Request, commune_name: str = Form("", max_length=_TEXT),
                 hotline: str = Form("", max_length=40), counter_name: str = Form("", max_length=_TEXT),
                 name: str = Form("", max_length=_TEXT), title: str = Form("", max_length=_TEXT),
                 pin: str = Form("", max_length=20), pin_again: str = Form("", max_length=20),
                 photo: UploadFile | None = File(None), crop_left: str = Form("", max_length=10),
                 crop_top: str = Form("", max_length=10), crop_side: str = Form("", max_length=10),
                 kept_photo: str = Form("", max_length=2_000_000),
                 account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                 rosters: RosterStore = Depends(get_rosters),
                 accounts: AccountBook = Depends(get_accounts)) -> Response:
    """The first roster: the commune, its first counter and first officer in one form. (Admin.)"""
    if rosters.current() is not None:
        return RedirectResponse("/roster", status_code=303)
    typed = {"commune_name": commune_name, "hotline": hotline, "counter_name": counter_name,
             "name": name, "title": title}
    portrait = None
    try:
        _check_pin(pin, pin_again)
        portrait = _portrait(photo, _crop(crop_left, crop_top, crop_side), kept_photo)
        tree = editing.new_tree("")
        editing.set_commune(tree, commune_name, hotline)
        if not commune_name.strip():
            raise RosterError("commune.name: empty", "commune.name", "empty")
        editing.save_counter(tree, None, counter_name)
        officer_id = editing.save_officer(tree, None, name=name.strip(), title=title.strip())
        if pin:
            editing.set_officer_pin(tree, officer_id, pin)
        portraits = {officer_id: portrait} if portrait else {}
        _publish(request, rosters, accounts, account, "roster.setup", officer_id, NO_ROSTER, tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, "setup", error, typed, portrait)
    return RedirectResponse("/roster?notice=setup", status_code=303)


def _refused(request: Request, rosters: RosterStore, account: Account, form: str, error: RosterError,
             typed: dict[str, Any], portrait: tuple[bytes, str] | None = None,
             template: str | None = None, **context: Any) -> HTMLResponse:
    """The page again with the problem next to its form and what was typed in it."""
    t = translator(request_language(request))
    values = dict(typed)
    if portrait is not None:
        values["kept_photo"] = base64.b64encode(portrait[0]).decode("ascii")
    refusal = Refusal(form, problem_text(t, error), _field_of(error) or ("counter_name" if form == "setup"
                                                                         and error.path == "counters" else ""),
                      values)
    if template is None:
        return _roster_page(request, rosters, account, status_code=400, refusal=refusal)
    return page(request, template, status_code=400, refusal=refusal, form=values, **context)


@router.post("/roster/commune")
def roster_commune(request: Request, commune_name: str = Form("", max_length=_TEXT),
                   hotline: str = Form("", max_length=40), leaders: str = Form("", max_length=_TEXT),
                   account: Account = ADMIN,
                   _csrf: None = Depends(csrf_protect), rosters: RosterStore = Depends(get_rosters),
                   accounts: AccountBook = Depends(get_accounts)) -> Response:
    """The commune's name, the leaders' hotline and who calls back. (Admin.)"""
    tree, portraits, before = _editable(rosters)
    try:
        editing.set_commune(tree, commune_name, hotline, leaders)
        if not commune_name.strip():
            raise RosterError("commune.name: empty", "commune.name", "empty")
        changed = _publish(request, rosters, accounts, account, "roster.commune", "commune", before, tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, "commune", error,
                        {"commune_name": commune_name, "hotline": hotline, "leaders": leaders})
    return RedirectResponse(f"/roster?notice={'commune' if changed else 'unchanged'}#commune", status_code=303)


@router.post("/roster/counters")
def roster_add_counter(request: Request, counter_name: str = Form("", max_length=_TEXT), account: Account = ADMIN,
                       _csrf: None = Depends(csrf_protect), rosters: RosterStore = Depends(get_rosters),
                       accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Add a counter. (Admin.)"""
    tree, portraits, before = _editable(rosters)
    try:
        counter_id = editing.save_counter(tree, None, counter_name)
        _publish(request, rosters, accounts, account, "roster.counter.add", counter_id, before,
                 tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, "counter-add", error, {"counter_name": counter_name})
    return RedirectResponse("/roster?notice=counter_added#counters", status_code=303)


@router.post("/roster/counters/{counter_id}")
def roster_rename_counter(request: Request, counter_id: str = Path(max_length=120, pattern=_ID),
                          counter_name: str = Form("", max_length=_TEXT), account: Account = ADMIN,
                          _csrf: None = Depends(csrf_protect), rosters: RosterStore = Depends(get_rosters),
                          accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Rename a counter (its id stays, so ratings keep their counter). (Admin.)"""
    tree, portraits, before = _editable(rosters)
    try:
        editing.save_counter(tree, counter_id, counter_name)
        changed = _publish(request, rosters, accounts, account, "roster.counter.rename", counter_id,
                           before, tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, f"counter-{counter_id}", error, {"counter_name": counter_name})
    notice = "counter_renamed" if changed else "unchanged"
    return RedirectResponse(f"/roster?notice={notice}#counters", status_code=303)


@router.post("/roster/counters/{counter_id}/remove")
def roster_remove_counter(request: Request, counter_id: str = Path(max_length=120, pattern=_ID),
                          account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                          rosters: RosterStore = Depends(get_rosters),
                          accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Take a counter off the roster (one must stay). (Admin.)"""
    tree, portraits, before = _editable(rosters)
    try:
        editing.remove_counter(tree, counter_id)
        _publish(request, rosters, accounts, account, "roster.counter.remove", counter_id, before,
                 tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, f"counter-{counter_id}", error, {})
    return RedirectResponse("/roster?notice=counter_removed#counters", status_code=303)


# -- an officer ------------------------------------------------------------------------


def _officer_context(rosters: RosterStore, officer_id: str | None) -> dict[str, Any] | None:
    """The officer being edited (None for a new one) and the counters to
    choose from, or None when there is no such officer."""
    document = _current_document(rosters)
    counters = (document or {}).get("counters") or []
    if officer_id is None:
        return {"officer": None, "counters": counters}
    for row in _officer_rows(document):
        if row["id"] == officer_id:
            return {"officer": row, "counters": counters}
    return None


@router.get("/roster/officers/new", response_class=HTMLResponse)
def new_officer_page(request: Request, _account: Account = ADMIN,
                     rosters: RosterStore = Depends(get_rosters)) -> Response:
    """The form for a new officer. (Admin.)"""
    if rosters.current() is None:
        return RedirectResponse("/roster", status_code=303)
    return page(request, "roster_officer.html", form={"active": True}, refusal=None,
                **_officer_context(rosters, None))


@router.get("/roster/officers/{officer_id}", response_class=HTMLResponse)
def officer_page(request: Request, officer_id: str = Path(max_length=120, pattern=_ID), _account: Account = ADMIN,
                 rosters: RosterStore = Depends(get_rosters)) -> Response:
    """The form to change an officer. (Admin.)"""
    context = _officer_context(rosters, officer_id)
    if context is None:
        return _missing(request)
    officer = context["officer"]
    form = {"name": officer["name"], "title": officer["title"], "active": officer["active"],
            "counter": officer["counter"]}
    return page(request, "roster_officer.html", form=form, refusal=None, **context)


@router.post("/roster/officers/new")
def add_officer(request: Request, name: str = Form("", max_length=_TEXT), title: str = Form("", max_length=_TEXT),
                counter: str = Form("", max_length=120), active: str = Form("", max_length=5),
                pin: str = Form("", max_length=20), pin_again: str = Form("", max_length=20),
                photo: UploadFile | None = File(None),
                crop_left: str = Form("", max_length=10), crop_top: str = Form("", max_length=10),
                crop_side: str = Form("", max_length=10), kept_photo: str = Form("", max_length=2_000_000),
                account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                rosters: RosterStore = Depends(get_rosters),
                accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Add an officer (id made from the name), with a PIN and a portrait when given. (Admin.)"""
    return _save_officer(request, None, name, title, counter, bool(active), pin, pin_again, photo,
                         _crop(crop_left, crop_top, crop_side), kept_photo, account, rosters, accounts)


@router.post("/roster/officers/{officer_id}")
def change_officer(request: Request, officer_id: str = Path(max_length=120, pattern=_ID),
                   name: str = Form("", max_length=_TEXT), title: str = Form("", max_length=_TEXT),
                   counter: str = Form("", max_length=120), active: str = Form("", max_length=5),
                   pin: str = Form("", max_length=20),
                   pin_again: str = Form("", max_length=20), photo: UploadFile | None = File(None),
                   crop_left: str = Form("", max_length=10), crop_top: str = Form("", max_length=10),
                   crop_side: str = Form("", max_length=10), kept_photo: str = Form("", max_length=2_000_000),
                   account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                   rosters: RosterStore = Depends(get_rosters),
                   accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Change an officer: name, title, active or not; a new PIN or portrait when given. (Admin.)"""
    return _save_officer(request, officer_id, name, title, counter, bool(active), pin, pin_again, photo,
                         _crop(crop_left, crop_top, crop_side), kept_photo, account, rosters, accounts)


def _save_officer(request: Request, officer_id: str | None, name: str, title: str, counter: str, active: bool,
                  pin: str, pin_again: str, photo: UploadFile | None, crop: tuple[int, int, int] | None,
                  kept_photo: str, account: Account, rosters: RosterStore, accounts: AccountBook) -> Response:
    context = _officer_context(rosters, officer_id)
    if context is None or rosters.current() is None:
        return _missing(request)
    tree, portraits, before = _editable(rosters)
    typed = {"name": name, "title": title, "counter": counter, "active": active}
    portrait = None
    try:
        _check_pin(pin, pin_again)
        portrait = _portrait(photo, crop, kept_photo)
        saved_id = editing.save_officer(tree, officer_id, name=name.strip(), title=title.strip(), active=active,
                                        counter=counter.strip() or None)
        if pin:
            editing.set_officer_pin(tree, saved_id, pin)
        if portrait is not None:
            portraits = {**portraits, saved_id: portrait}
        action = "roster.officer.add" if officer_id is None else "roster.officer.change"
        changed = _publish(request, rosters, accounts, account, action, saved_id, before, tree, portraits)
    except RosterError as error:
        return _refused(request, rosters, account, "officer", error, typed, portrait,
                        template="roster_officer.html", **context)
    notice = "officer_added" if officer_id is None else ("officer_saved" if changed else "unchanged")
    return RedirectResponse(f"/roster?notice={notice}#officer-{saved_id}", status_code=303)


# -- the settings the tablets take ------------------------------------------------------------


def _settings_page(request: Request, tree: dict[str, Any], form: dict[str, Any], *, status_code: int = 200,
                   refusal: Refusal | None = None) -> HTMLResponse:
    t = translator(request_language(request))
    lang = request_language(request)
    return page(request, "roster_settings.html", status_code=status_code, form=form, refusal=refusal,
                weekdays=WEEKDAYS, scales=SCALE_SIZES, languages=LANGUAGES, timeout_names=TIMEOUT_NAMES,
                low_choices=_reason_choices(tree, "low", lang, t), high_choices=_reason_choices(tree, "high", lang, t))


@router.get("/roster/settings", response_class=HTMLResponse)
def settings_page(request: Request, _account: Account = ADMIN,
                  rosters: RosterStore = Depends(get_rosters)) -> Response:
    """The commune-wide settings form. (Admin.)"""
    if rosters.current() is None:
        return RedirectResponse("/roster", status_code=303)
    tree, _ = rosters.editable()
    return _settings_page(request, tree, _settings_form(tree, editing.commune_settings(tree)))


def _number(text: str) -> Any:
    """A number as typed (a decimal comma allowed); the text itself when it is
    not one, for the tablets' rules to refuse with its key path; None when empty."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _hours(text: str) -> list[str] | None:
    """A weekday's sessions as typed (``07:30-11:30, 13:30-17:00``); None: closed."""
    spans = [s.replace(" ", "").replace("–", "-") for s in text.replace(";", ",").split(",")]
    return [s for s in spans if s] or None


@router.post("/roster/settings")
async def save_settings(request: Request, account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                        rosters: RosterStore = Depends(get_rosters),
                        accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Save the commune-wide settings; the tablets take them at their next sync. (Admin.)"""
    submitted = await request.form()
    fields = {key: str(value)[:200] for key, value in submitted.items() if isinstance(value, str)}
    low = [str(v) for v in submitted.getlist("low")][:50]
    high = [str(v) for v in submitted.getlist("high")][:50]
    return await run_in_threadpool(_save_settings, request, fields, low, high, account, rosters, accounts)


def _save_settings(request: Request, fields: dict[str, str], low: list[str], high: list[str], account: Account,
                   rosters: RosterStore, accounts: AccountBook) -> Response:
    if rosters.current() is None:
        return RedirectResponse("/roster", status_code=303)
    tree, portraits, before = _editable(rosters)
    typed: dict[str, Any] = {**fields, "reasons_on_high": bool(fields.get("reasons_on_high")),
                             "enforce": bool(fields.get("enforce")), "low": low, "high": high}
    try:
        editing.set_setting(tree, "rating", "scale", _number(fields.get("scale", "")))
        editing.set_setting(tree, "rating", "burst_interval_s", _number(fields.get("burst_interval_s", "")))
        editing.set_setting(tree, "rating", "reasons_on_high", typed["reasons_on_high"])
        editing.set_setting(tree, "working_hours", "enforce", typed["enforce"])
        for day in WEEKDAYS:
            editing.set_setting(tree, "working_hours", day, _hours(fields.get(f"hours_{day}", "")))
        for name in TIMEOUT_NAMES:
            editing.set_setting(tree, "timeouts", name, _number(fields.get(f"timeout_{name}", "")))
        editing.set_setting(tree, "language", None, fields.get("language") or None)
        editing.set_reasons(tree, "low", low)
        editing.set_reasons(tree, "high", high)
        changed = _publish(request, rosters, accounts, account, "roster.settings", "settings", before, tree,
                           portraits)
    except RosterError as error:
        t = translator(request_language(request))
        refusal = Refusal("settings", problem_text(t, error), error.path, typed)
        return _settings_page(request, tree, typed, status_code=400, refusal=refusal)
    return RedirectResponse(f"/roster?notice={'settings' if changed else 'unchanged'}#settings", status_code=303)
