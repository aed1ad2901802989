"""The survey's public page, opened on a citizen's own phone (anyone, no login):

* ``/s/{token}`` — every question of the campaign's questionnaire on one
  page (its sections as headings), posted once;
* ``/s/{token}/officers/{officer_id}`` — a small portrait of an officer the
  questionnaire's ``officer`` question offers.

A small page (the public pages' stylesheet and a little more, no script, large
text). Nothing of the citizen is stored with the answers: no address, no
cookie beyond the form's own double-submit token; the posts per address are
counted (:meth:`server.comments.CommentBox.count_post`, which keeps only a
keyed digest of the address, apart from the answers) against a budget of the
survey's own, larger than the other public forms' and apart from theirs
(the ``survey_posts_per_hour`` setting, 120 unless changed: a hall's Wi-Fi
is one address). Refusals get a page saying why: 404 (no such link, or the campaign takes no phone answers),
403 (not started yet, or a form not posted from its page), 410 (ended), 422
(a required question unanswered: the form comes back with everything chosen
kept), 429 (too many posts from one address).
"""

from __future__ import annotations

import io

from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.deps import client_address
from server.i18n import translator
from server.routes.surveys import survey_desk
from server.surveys import Opening, RosterOfficer, answers_of_form, typed_of_form
from server.web.comment_form import comment_box
from server.web.public_forms import SpentTokens, form_token_ok, keep_form_token, message_page, new_form_token
from server.web.render import page, request_language
from server.web.surveys import error_text
from sync.survey import MAX_TEXT_ANSWER_CHARS, SurveyError

__all__ = ["router", "SURVEY_COOKIE", "THUMBNAIL_SIDE"]

router = APIRouter(include_in_schema=False)

SURVEY_COOKIE = "hailong_survey"
"""Holds the survey form's CSRF token (double submit), for ``/s/`` only."""
THUMBNAIL_SIDE = 96
"""The side of an officer's portrait on the phone page, in pixels (shown at 64 CSS pixels)."""

_TOKEN = r"^[A-Za-z0-9_-]{8,64}$"
_REFUSED = {Opening.NOT_FOUND: 404, Opening.NOT_STARTED: 403, Opening.CLOSED: 410}


def _spent_tokens(request: Request) -> SpentTokens:
    """The server's memory of the phone forms already taken."""
    spent = getattr(request.app.state, "spent_survey_forms", None)
    if spent is None:
        spent = request.app.state.spent_survey_forms = SpentTokens()
    return spent


def _message(request: Request, state: str, status_code: int, **context) -> Response:
    return message_page(request, "survey_public_message.html", state, status_code, **context)


def _refusal(request: Request, state: Opening, found) -> Response:
    """The page of a link that takes no answers today."""
    context = {}
    if found is not None:
        contract = found.contract
        context = {
            "title": contract.title,
            "start": contract.starts_on.strftime("%d/%m/%Y"),
            "end": contract.ends_on.strftime("%d/%m/%Y"),
        }
    return _message(request, state.value, _REFUSED[state], **context)


def _portrait_address(token: str):
    def address(officer: RosterOfficer) -> str | None:
        return f"/s/{token}/officers/{officer.id}?v={officer.photo[:12]}" if officer.photo else None

    return address


def _form(
    request: Request,
    token: str,
    found,
    *,
    status_code: int = 200,
    typed: dict | None = None,
    missing: set[str] | None = None,
    invalid: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    desk = survey_desk(request)
    questionnaire = found.questionnaire
    officers = desk.officers() if any(q.kind == "officer" for q in questionnaire.questions) else []
    form_token = new_form_token()
    response = page(
        request,
        "survey_public.html",
        status_code=status_code,
        token=token,
        questionnaire=questionnaire,
        officers=officers,
        typed=typed or {},
        missing=missing or set(),
        invalid=invalid or {},
        error=error,
        max_text=MAX_TEXT_ANSWER_CHARS,
        portrait=_portrait_address(token),
        form_csrf=form_token,
    )
    return keep_form_token(request, response, SURVEY_COOKIE, form_token, "/s/")


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(request: Request, token: str = Path(max_length=64), sent: int = 0) -> Response:
    """A campaign's questionnaire for the citizen's phone (anyone with the link)."""
    desk = survey_desk(request)
    state, found = desk.public_opening(token)
    if sent and state is Opening.OPEN:
        return _message(request, "thanks", 200)
    if state is not Opening.OPEN:
        return _refusal(request, state, found)
    return _form(request, token, found)


@router.post("/s/{token}", response_class=HTMLResponse)
async def send_survey(
    request: Request, token: str = Path(max_length=64), csrf: str = Form("", max_length=200)
) -> Response:
    """Take a citizen's answers (anyone with the link; limited per address)."""
    desk = survey_desk(request)
    if not await run_in_threadpool(comment_box(request).count_post, client_address(request), survey=True):
        return _message(request, "too_many", 429)
    state, found = await run_in_threadpool(desk.public_opening, token)
    if state is not Opening.OPEN:
        return _refusal(request, state, found)
    if not form_token_ok(request, SURVEY_COOKIE, csrf):
        return _message(request, "stale_form", 403, again=f"/s/{token}")
    if not _spent_tokens(request).spend(csrf):
        # The same form again (a double tap): one answer set, and the thanks.
        return RedirectResponse(f"/s/{token}?sent=1", status_code=303)
    form = await request.form()

    def values(name: str) -> list[str]:
        return [v[: MAX_TEXT_ANSWER_CHARS * 4] for v in form.getlist(name) if isinstance(v, str)][:50]

    questionnaire = found.questionnaire
    answers = answers_of_form(questionnaire, values)
    try:
        await run_in_threadpool(desk.answer_by_phone, token, answers)
    except SurveyError as refused:
        t = translator(request_language(request))
        typed = typed_of_form(questionnaire, values)
        if refused.code == "not_open":
            state = Opening(refused.path) if refused.path in {o.value for o in Opening} else Opening.CLOSED
            return _refusal(request, state, found)
        message, where = error_text(t, refused), refused.path
        if refused.code == "missing_required":
            missing = set(refused.detail.split(","))
            return await run_in_threadpool(
                lambda: _form(
                    request,
                    token,
                    found,
                    status_code=422,
                    typed=typed,
                    missing=missing,
                    error=t("survey_form.error.missing_required", count=len(missing)),
                )
            )
        return await run_in_threadpool(
            lambda: _form(
                request,
                token,
                found,
                status_code=422,
                typed=typed,
                invalid={where: message},
                error=t("survey_form.error.invalid"),
            )
        )
    return RedirectResponse(f"/s/{token}?sent=1", status_code=303)


@router.get("/s/{token}/officers/{officer_id}")
def officer_portrait(
    request: Request, token: str = Path(max_length=64), officer_id: str = Path(max_length=120)
) -> Response:
    """A small portrait of an officer the campaign's questionnaire lets the
    citizen choose (anyone with the link, while it takes answers)."""
    desk = survey_desk(request)
    state, found = desk.public_opening(token)
    if state is not Opening.OPEN or not any(q.kind == "officer" for q in found.questionnaire.questions):
        return Response(status_code=404)
    if officer_id not in {o.id for o in desk.officers()}:
        return Response(status_code=404)
    stored = desk.portrait(officer_id)
    if stored is None:
        return Response(status_code=404)
    content, sha256 = stored
    return Response(
        _thumbnail(sha256, content),
        media_type="image/jpeg",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


_THUMBNAILS: dict[str, bytes] = {}


def _thumbnail(sha256: str, content: bytes) -> bytes:
    """The portrait made small (a few kilobytes on the citizen's data plan),
    kept by its digest (a new portrait has a new digest)."""
    made = _THUMBNAILS.get(sha256)
    if made is None:
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(content)) as picture:
            small = ImageOps.fit(picture.convert("RGB"), (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=72, optimize=True)
        made = out.getvalue()
        if len(_THUMBNAILS) >= 64:
            _THUMBNAILS.clear()
        _THUMBNAILS[sha256] = made
    return made
