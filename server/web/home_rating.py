"""The citizen's pages of a rating given at home, on their own phone (anyone
holding the visit's link; the rules are :mod:`server.home_visits`'):

* ``/h/{token}`` — the commune, the officer who came (name, title, photo),
  the date and the commune's faces; one tap rates. The link works once: a
  second visit says the rating was received (200), an expired link says so
  (410), an unknown one too (404).
* ``/h/{token}/chi-tiet`` — after the tap, for the browser that rated only
  (a key in its cookie): the reasons and, after a low rating, the call-back
  offer with the tablet's consent; then thanks.

Small pages on the citizens' layout (``public_base.html``), without
JavaScript, in large text. Posts carry a double-submit token (as the comment
form's) and are counted per address with the comment form's posts (429
past the limit). An officer logged in to the dashboard cannot rate their own
visit from their browser (403).
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from PIL import Image, UnidentifiedImageError

from server.deps import SESSION_COOKIE, client_address
from server.home_visits import HomeVisitError, HomeVisits, Opening, VisitState
from server.i18n import translator
from server.roster import RosterStore
from server.settings import load_settings
from server.web.comment_form import comment_box
from server.web.home_visits import home_visits
from server.web.public_forms import form_token_ok, keep_form_token, message_page, new_form_token
from server.web.render import local_time, page, request_language

__all__ = ["router", "FORM_COOKIE", "DETAILS_COOKIE"]

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "hailong_home_form"
"""Holds the pages' CSRF token (double submit), for ``/h/`` only."""
DETAILS_COOKIE = "hailong_home"
"""Holds the key with which the browser that rated adds the reasons, for its visit's path only."""
TOKEN_PATH = Path(max_length=64, pattern=r"^[A-Za-z0-9_-]{16,64}$")
# Refused links, by state: (status of the page).
_STATUS = {VisitState.UNKNOWN: 404, VisitState.EXPIRED: 410, VisitState.RATED: 200}
PORTRAIT_PIXELS = 176
"""The side of the officer's photo on the phone page (drawn at 88 px, sharp on a 2× screen)."""


@lru_cache(maxsize=64)
def _thumbnail(sha256: str, content: bytes) -> str | None:
    """A portrait made small enough to travel inside the page (a data URI of
    a few kilobytes), once per picture; None when it cannot be read."""
    del sha256  # the cache's key: the same picture is made small once
    try:
        with Image.open(io.BytesIO(content)) as image:
            image = image.convert("RGB")
            image.thumbnail((PORTRAIT_PIXELS, PORTRAIT_PIXELS))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=78, optimize=True)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _portrait(request: Request, officer_id: str) -> str | None:
    found = RosterStore(request.app.state.engine).portrait(officer_id)
    if found is None:
        return None
    content, _type, etag = found
    return _thumbnail(etag, content)


def _reason_words(request: Request, opening: Opening, ids: tuple[str, ...]) -> list[tuple[str, str]]:
    """The reasons offered, as (id, words in the page's language)."""
    lang = request_language(request)
    commune = opening.commune
    labels: dict[str, dict[str, str] | None] = {}
    if commune is not None:
        labels = {r.id: r.labels for r in (*commune.low_reasons, *commune.high_reasons)}
    t = translator(lang)
    out = []
    for reason in ids:
        own = labels.get(reason)
        out.append((reason, own.get(lang) or own.get("vi") or reason if own else t(f"roster.reason.{reason}")))
    return out


def _shown(request: Request, opening: Opening) -> dict[str, Any]:
    """What every page of a visit shows: the officer (name, title, photo) and the date."""
    officer = opening.officer or {}
    zone = load_settings(request.app.state.engine).zone
    visit = opening.visit
    return {
        "officer": officer.get("name") or (visit.officer_id if visit else ""),
        "title": officer.get("title") or "",
        "photo": _portrait(request, visit.officer_id) if visit and officer.get("photo") else None,
        "when": local_time(visit.created_at, zone, "date") if visit else "",
    }


def _leaders(request: Request, opening: Opening) -> str:
    """Who calls back, as the tablet's consent names them."""
    commune = opening.commune
    if commune is not None and commune.leaders:
        return commune.leaders
    t = translator(request_language(request))
    name = load_settings(request.app.state.engine).commune_name or (commune.name if commune else "")
    return t("home_visit.public.who_commune", commune=name) if name else t("home_visit.public.who_default")


def _form_page(request: Request, template: str, token: str, *, status_code: int = 200, **context) -> Response:
    """A page with a form, with a fresh double-submit token in its cookie and its hidden field."""
    csrf = new_form_token()
    response = page(request, template, status_code=status_code, form_csrf=csrf, token=token, **context)
    return keep_form_token(request, response, FORM_COOKIE, csrf, "/h/")


def _message(request: Request, state: str, status_code: int, **context) -> Response:
    """A page that only says something (received, expired, refused…)."""
    return message_page(request, "home_message.html", state, status_code, **context)


def _csrf_ok(request: Request, sent: str) -> bool:
    return form_token_ok(request, FORM_COOKIE, sent)


def _own_visit(request: Request, opening: Opening) -> bool:
    """Whether the browser is logged in to the dashboard as the visit's
    officer or its maker: they may not rate it."""
    visit = opening.visit
    if visit is None:
        return False
    accounts = request.app.state.accounts
    session = accounts.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return False
    account = session.account
    return account.username == visit.created_by or (account.officer_id or "") == visit.officer_id


# -- the faces --------------------------------------------------------------------


@router.get("/h/{token}", response_class=HTMLResponse)
async def rating_page(request: Request, token: str = TOKEN_PATH, sent: int = 0, callback: int = 0) -> Response:
    """The faces of a home visit (anyone with the visit's link, once)."""
    visits = home_visits(request)
    opening = await run_in_threadpool(visits.opening, token)
    if opening.state is not VisitState.OPEN:
        if opening.state is VisitState.UNKNOWN and not await run_in_threadpool(
                comment_box(request).count_post, client_address(request)):
            return _message(request, "too_many", 429)
        if opening.state is VisitState.RATED and sent:
            commune = await run_in_threadpool(visits.commune)
            return _message(request, "thanks", 200, callback=bool(callback),
                            hotline=commune.hotline if commune else "")
        return _message(request, opening.state.value, _STATUS[opening.state])
    shown = await run_in_threadpool(_shown, request, opening)
    return _form_page(request, "home_rate.html", token, shown=shown, levels=opening.levels, error=None)


@router.post("/h/{token}", response_class=HTMLResponse)
async def rate(request: Request, token: str = TOKEN_PATH, csrf: str = Form("", max_length=200),
               level: str = Form("", max_length=40)) -> Response:
    """Keep the citizen's tap (anyone with the visit's link, once; a form
    cookie; limited per address)."""
    visits = home_visits(request)
    if not await run_in_threadpool(comment_box(request).count_post, client_address(request)):
        return _message(request, "too_many", 429)
    if not _csrf_ok(request, csrf):
        return _message(request, "stale_form", 403, again=f"/h/{token}")
    opening = await run_in_threadpool(visits.opening, token)
    if await run_in_threadpool(_own_visit, request, opening):
        return _message(request, "own_visit", 403)
    try:
        rated = await run_in_threadpool(visits.rate, token, level)
    except HomeVisitError as refused:
        if refused.code == "bad_level":
            shown = await run_in_threadpool(_shown, request, opening)
            return _form_page(request, "home_rate.html", token, status_code=422, shown=shown,
                              levels=opening.levels, error="bad_level")
        state = VisitState(refused.code)
        return _message(request, state.value, 409 if state is VisitState.RATED else _STATUS[state])
    if rated.details_key is None:
        return RedirectResponse(f"/h/{token}?sent=1", status_code=303)
    response = RedirectResponse(f"/h/{token}/chi-tiet", status_code=303)
    response.set_cookie(DETAILS_COOKIE, rated.details_key, max_age=3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=f"/h/{token}")
    return response


# -- the reasons and the call-back ---------------------------------------------------


def _details_page(request: Request, token: str, opening: Opening, *, status_code: int = 200,
                  error: str | None = None, typed: dict | None = None) -> Response:
    visits: HomeVisits = home_visits(request)
    level = visits.rated_level(opening.visit.rating_uuid)
    low = bool(level and level.low)
    reasons = visits.reasons_after(opening.commune, level) if level else ()
    months = load_settings(request.app.state.engine).callback_retention_months
    return _form_page(request, "home_details.html", token, status_code=status_code, low=low,
                      reasons=_reason_words(request, opening, reasons), who=_leaders(request, opening),
                      months=months, error=error, typed=typed or {})


@router.get("/h/{token}/chi-tiet", response_class=HTMLResponse)
async def details_page(request: Request, token: str = TOKEN_PATH) -> Response:
    """The reasons and the call-back offer after a tap (the browser that rated, once)."""
    opening = await run_in_threadpool(home_visits(request).details_open, token,
                                      request.cookies.get(DETAILS_COOKIE))
    if opening is None:
        found = await run_in_threadpool(home_visits(request).opening, token)
        return _message(request, found.state.value, _STATUS.get(found.state, 200))
    return await run_in_threadpool(_details_page, request, token, opening)


@router.post("/h/{token}/chi-tiet", response_class=HTMLResponse)
async def add_details(request: Request, token: str = TOKEN_PATH, csrf: str = Form("", max_length=200),
                      phone: str = Form("", max_length=200), consent: str = Form("", max_length=10),
                      skip: str = Form("", max_length=10)) -> Response:
    """Keep the reasons and a call-back number given with consent (the
    browser that rated, once; a form cookie; limited per address)."""
    visits = home_visits(request)
    if not await run_in_threadpool(comment_box(request).count_post, client_address(request)):
        return _message(request, "too_many", 429)
    if not _csrf_ok(request, csrf):
        return _message(request, "stale_form", 403, again=f"/h/{token}/chi-tiet")
    form = await request.form()
    reasons = [] if skip else [r for r in form.getlist("reason") if isinstance(r, str)][:50]
    key = request.cookies.get(DETAILS_COOKIE)
    try:
        callback = await run_in_threadpool(lambda: visits.add_details(
            token, key, reasons, phone="" if skip else phone, consent=bool(consent) and not skip))
    except HomeVisitError as refused:
        if refused.code == "closed":
            found = await run_in_threadpool(visits.opening, token)
            return _message(request, found.state.value, 409 if found.state is VisitState.RATED else
                            _STATUS.get(found.state, 200))
        code = refused.code
        opening = await run_in_threadpool(visits.details_open, token, key)
        # What was typed stays in the form, the number included: it is the citizen's own page, never logged.
        return await run_in_threadpool(lambda: _details_page(
            request, token, opening, status_code=422, error=code,
            typed={"reasons": set(reasons), "phone": phone, "consent": bool(consent)}))
    response = RedirectResponse(f"/h/{token}?sent=1" + ("&callback=1" if callback else ""), status_code=303)
    response.delete_cookie(DETAILS_COOKIE, path=f"/h/{token}")
    return response
