"""The citizens' public pages, opened on their own phones (anyone, no login):

* ``/c/{rating_uuid}?t=TOKEN`` — the comment form behind the QR code of the
  tablet's thank-you screen: the commune, the officer, the date and the face
  chosen, a comment and, with explicit consent, a phone number for a call-back;
* ``/gop-y`` — the electronic suggestion box (hòm thư góp ý điện tử).

Small pages (their own layout and stylesheet, a few kilobytes) that work
without JavaScript, in large text. A refused visit gets a page saying why in
plain words, with its status: 404 (no such rating yet: the tablet may not
have sent it), 403 (wrong token, or a form not posted from its page), 410
(expired), 409 (already received), 422 (input to correct), 429 (too many
posts from one address).

There is no session: a post carries the token of a double-submit cookie
(HttpOnly, SameSite=Strict, set with the form) in its hidden field ``csrf``,
which another site can neither read nor set. The rules are in :mod:`server.comments`.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.comments import MAX_NAME_CHARS, MAX_TEXT_CHARS, CommentBox, CommentError, Opening, RatingToComment
from server.deps import client_address
from server.settings import load_settings
from server.store import ratings as stored_ratings
from server.store import read_transaction
from server.web.public_forms import form_token_ok, keep_form_token, message_page, new_form_token
from server.web.render import local_time, page

__all__ = ["router", "FORM_COOKIE", "comment_box"]

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "hailong_form"
"""Holds a public form's CSRF token (double submit), for that form's path only."""

# Refusals of a rating's form, by state: (status on a visit, status on a post).
_REFUSED = {
    Opening.NOT_FOUND: 404,
    Opening.WRONG_TOKEN: 403,
    Opening.EXPIRED: 410,
}


def comment_box(request: Request) -> CommentBox:
    """The application's comment box (made on first use, on the server's clock)."""
    box = getattr(request.app.state, "comment_box", None)
    if box is None:
        box = CommentBox(request.app.state.engine, clock=request.app.state.clock)
        request.app.state.comment_box = box
    return box


def _with_form_cookie(request: Request, template: str, cookie_path: str, *, status_code: int = 200,
                      **context) -> Response:
    """A form page, with a fresh double-submit token in its cookie and its hidden field."""
    token = new_form_token()
    retention_days = load_settings(request.app.state.engine).comment_retention_days
    response = page(request, template, status_code=status_code, form_csrf=token, max_text=MAX_TEXT_CHARS,
                    max_name=MAX_NAME_CHARS, retention_days=retention_days, **context)
    return keep_form_token(request, response, FORM_COOKIE, token, cookie_path)


def _message(request: Request, state: str, status_code: int, **context) -> Response:
    """A page that only says something (received, refused…)."""
    return message_page(request, "public_message.html", state, status_code, **context)


def _csrf_ok(request: Request, sent: str) -> bool:
    return form_token_ok(request, FORM_COOKIE, sent)


def _shown(request: Request, rating: RatingToComment) -> dict[str, str]:
    """What the form shows of a rating: the officer's and counter's names, the local date."""
    engine = request.app.state.engine
    with read_transaction(engine) as conn:
        officers = stored_ratings.officer_names(conn)
        counters = stored_ratings.counter_names(conn)
    zone = load_settings(engine).zone
    return {
        "officer": officers.get(rating.officer_id or "", ""),
        "counter": counters.get(rating.counter_id or "", ""),
        "when": local_time(rating.corrected_time, zone),
        "level": rating.level or "",
    }


def _form_address(rating_uuid: str, token: str) -> str:
    return f"/c/{quote(rating_uuid[:64], safe='')}?t={quote(token, safe='')}"


# -- a rating's comment form ---------------------------------------------------------


@router.get("/c/{rating_uuid}", response_class=HTMLResponse)
async def comment_form(request: Request, rating_uuid: str, t: str = Query("", max_length=200),
                       sent: int = 0) -> Response:
    """The comment form of one rating (anyone with the rating's token)."""
    box = comment_box(request)
    state = await run_in_threadpool(box.opening, rating_uuid[:64], t)
    if state is Opening.RECEIVED:
        return _message(request, "thanks" if sent else "received", 200)
    if state is not Opening.OPEN:
        return _message(request, state.value, _REFUSED[state])
    rating = await run_in_threadpool(box.rating, rating_uuid)
    shown = await run_in_threadpool(_shown, request, rating)
    return _with_form_cookie(request, "comment_form.html", "/c/", rating_uuid=rating_uuid, token=t, shown=shown,
                             typed={}, error=None)


@router.post("/c/{rating_uuid}", response_class=HTMLResponse)
async def send_comment(request: Request, rating_uuid: str, t: str = Form("", max_length=200),
                       csrf: str = Form("", max_length=200), text: str = Form("", max_length=20_000),
                       phone: str = Form("", max_length=200), consent: str = Form("", max_length=10)) -> Response:
    """Take the comment of a rating (anyone with the rating's token; limited per address)."""
    box = comment_box(request)
    if not await run_in_threadpool(box.count_post, client_address(request)):
        return _message(request, "too_many", 429)
    if not _csrf_ok(request, csrf):
        return _message(request, "stale_form", 403, again=_form_address(rating_uuid, t))
    try:
        await run_in_threadpool(lambda: box.comment_on_rating(
            rating_uuid[:64], t, text=text, phone=phone, consent=bool(consent), address=client_address(request)))
    except CommentError as refused:
        if refused.code == Opening.RECEIVED.value:
            return _message(request, "received", 409)
        state = next((s for s in _REFUSED if s.value == refused.code), None)
        if state is not None:
            return _message(request, state.value, _REFUSED[state])
        rating = await run_in_threadpool(box.rating, rating_uuid)
        shown = await run_in_threadpool(_shown, request, rating)
        # What was typed stays in the form, phone number included: it is the
        # citizen's own page, and it is never logged.
        return _with_form_cookie(request, "comment_form.html", "/c/", status_code=422, rating_uuid=rating_uuid,
                                 token=t, shown=shown, error=refused.code,
                                 typed={"text": text, "phone": phone, "consent": bool(consent)})
    return RedirectResponse(_form_address(rating_uuid, t) + "&sent=1", status_code=303)


# -- the suggestion box ----------------------------------------------------------------


@router.get("/gop-y", response_class=HTMLResponse)
def suggestion_form(request: Request, sent: int = 0) -> Response:
    """The electronic suggestion box (anyone)."""
    if sent:
        return _message(request, "suggestion_thanks", 200)
    return _with_form_cookie(request, "suggestion_form.html", "/gop-y", typed={}, error=None)


@router.post("/gop-y", response_class=HTMLResponse)
async def send_suggestion(request: Request, csrf: str = Form("", max_length=200),
                          text: str = Form("", max_length=20_000), name: str = Form("", max_length=2_000),
                          phone: str = Form("", max_length=200), consent: str = Form("", max_length=10)) -> Response:
    """Take a suggestion (anyone; limited per address)."""
    box = comment_box(request)
    if not await run_in_threadpool(box.count_post, client_address(request)):
        return _message(request, "too_many", 429)
    if not _csrf_ok(request, csrf):
        return _message(request, "stale_form", 403, again="/gop-y")
    try:
        await run_in_threadpool(lambda: box.suggest(text=text, name=name, phone=phone, consent=bool(consent),
                                                    address=client_address(request)))
    except CommentError as refused:
        return _with_form_cookie(request, "suggestion_form.html", "/gop-y", status_code=422, error=refused.code,
                                 typed={"text": text, "name": name, "phone": phone, "consent": bool(consent)})
    return RedirectResponse("/gop-y?sent=1", status_code=303)
