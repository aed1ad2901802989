"""What citizens wrote, for the commune's leaders: the comments given on
ratings through the QR code (with the officer, the date and the level) and
the suggestion box, newest first, each erasable at the citizen's request.
(Leaders only: comments may name people; the observer sees no personal data,
and an officer learns of a comment about them through its follow-up case.)

No phone number is shown here, only whether a call-back was asked for: the
numbers are read by the follow-up cases alone (:func:`server.comments.callback_phone`).
A comment that opened or joined a follow-up case (or whose rating has one)
links to it, with the case's status and whether it is overdue.

A suggestion, or a comment on a satisfied rating, may be answered with a
thank-you letter (``/comments/{id}/letters/thanks.pdf`` and ``.docx``,
:mod:`server.letters`; leaders): the first download issues its number, later
ones give the same letter back.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.comments import KIND_RATING, KIND_SUGGESTION, comments_page, erase_comment
from server.letters import LetterDesk, thanks_allowed
from server.store import ratings as stored_ratings
from server.store import read_transaction
from server.web.auth import client_address, csrf_protect, require
from server.web.cases import get_cases, get_letters, letter_answer
from server.web.render import page, register_nav

__all__ = ["router", "PER_PAGE"]

router = APIRouter(include_in_schema=False)
register_nav("/comments", "comments.nav", (Role.LEADER,), order=30)

LEADER = Depends(require(Role.LEADER))
PER_PAGE = 50


@router.get("/comments", response_class=HTMLResponse)
async def comments_list(request: Request, kind: str = Query(KIND_RATING, pattern="^(rating|suggestion)$"),
                        page_number: int = Query(1, alias="page", ge=1, le=1_000_000),
                        erased: int = 0, _account: Account = LEADER) -> HTMLResponse:
    """One page of comments on ratings, or of suggestions, each with the
    follow-up case it leads to. (Leader.)"""
    engine = request.app.state.engine
    found, total = await run_in_threadpool(comments_page, engine, kind, page=page_number, per_page=PER_PAGE)

    def names() -> tuple[dict[str, str], dict[str, str]]:
        with read_transaction(engine) as conn:
            return stored_ratings.officer_names(conn), stored_ratings.counter_names(conn)

    officers, counters = await run_in_threadpool(names)
    thankable = {c.id for c in found if thanks_allowed(c)}
    letters = await run_in_threadpool(get_letters(request).issued_for_comments, sorted(thankable))
    linked = await run_in_threadpool(get_cases(request).cases_for_comments, found)
    now = request.app.state.clock()
    overdue = {case.id for case in linked.values() if case.overdue(now)}
    pages = max(1, -(-total // PER_PAGE))
    return page(request, "comments.html", kind=kind, kinds=(KIND_RATING, KIND_SUGGESTION), comments=found,
                total=total, page_number=page_number, pages=pages, officers=officers, counters=counters,
                erased=bool(erased), thankable=thankable, letters=letters, linked=linked, overdue=overdue)


@router.post("/comments/{comment_id}/erase")
async def erase(request: Request, comment_id: int, kind: str = Query(KIND_RATING, pattern="^(rating|suggestion)$"),
                account: Account = LEADER, _csrf: None = Depends(csrf_protect)) -> Response:
    """Erase a comment's text, name and phone number at the citizen's request; audited. (Leader.)"""
    await run_in_threadpool(lambda: erase_comment(request.app.state.engine, comment_id, account.username,
                                                  address=client_address(request), clock=request.app.state.clock))
    return RedirectResponse(f"/comments?kind={kind}&erased=1", status_code=303)


@router.get("/comments/{comment_id}/letters/thanks.pdf")
def thanks_pdf(request: Request, comment_id: int = Path(ge=1, le=2**53), account: Account = LEADER,
               desk: LetterDesk = Depends(get_letters)) -> Response:
    """The thank-you letter for a comment, as a PDF to sign. (Leader.)"""
    return letter_answer(request, lambda address: desk.thanks(comment_id, account, address), "pdf",
                         "letter_missing.html", "/comments")


@router.get("/comments/{comment_id}/letters/thanks.docx")
def thanks_docx(request: Request, comment_id: int = Path(ge=1, le=2**53), account: Account = LEADER,
                desk: LetterDesk = Depends(get_letters)) -> Response:
    """The thank-you letter for a comment, as a DOCX to edit. (Leader.)"""
    return letter_answer(request, lambda address: desk.thanks(comment_id, account, address), "docx",
                         "letter_missing.html", "/comments")
