"""The follow-up cases: ``/cases`` (open, overdue, resolved or every case)
and ``/cases/{id}`` (a case, its history and the leader's actions).

Who sees what (the rules are :mod:`server.cases`'):

* leaders see every case and act on it (give it an owner, move its status,
  set its outcome, add notes); the admin may open them too, and act on a case
  given to them;
* an officer sees the cases about them: that they exist, their status and
  outcome — never the citizen's number, the comment's author or the notes;
* the observer sees no case (personal data): 403.

The citizen's number shows only on a case's page, to its owner and leaders,
while it is open, and each showing is audited (``callback.view``). The
citizen's comment (what they wrote, a suggestion's signature; "erased" once
erased) shows there to leaders, and to the owner while the case is open.

The apology letter of a case (``/cases/{id}/letters/apology.pdf`` and
``.docx``, :mod:`server.letters`) is for those who act on the case: leaders,
and the admin it is given to. The first download issues its number; later
ones give the same letter back. The menu's entry carries a badge with the number of new
cases for leaders, and the board lists them (``new_cases_for`` in the
templates).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.cases import CALLBACK_ERASED, Case, CaseBook, CaseError, CaseEvent, CaseOutcome, CaseView
from server.deps import AccessDenied
from server.documents.pdf import render_pdf
from server.documents.word import render_docx
from server.letters import APOLOGY, Letter, LetterDesk, LetterError, LetterTemplates, may_issue_apology
from server.store import read_transaction
from server.store.ratings import officer_names
from server.web.auth import client_address, csrf_protect, require
from server.web.render import environment, page, register_nav

__all__ = ["router", "get_cases", "new_cases_for", "CaseRow", "get_letters", "letter_answer"]

router = APIRouter(include_in_schema=False)

READERS = Depends(require(Role.LEADER, Role.ADMIN, Role.OFFICER))
# Cases on one page of the list.
PER_PAGE = 50
ACTORS = Depends(require(Role.LEADER, Role.ADMIN))
BOARD_LIMIT = 10
ERASE_UNCONFIRMED = "erase_unconfirmed"
"""The error shown when the erase form came without its confirmation box ticked."""
"""New cases listed on the board at most (the rest are a link away)."""


def get_cases(request: Request) -> CaseBook:
    """The :class:`CaseBook` the dashboard was mounted with."""
    return request.app.state.cases


def _new_count(request: Request, account: Account) -> int:
    # A leader's badge only: the officer's menu says nothing of new cases.
    if account.role is not Role.LEADER:
        return 0
    return get_cases(request).count_new()


register_nav("/cases", "cases.nav", (Role.LEADER, Role.OFFICER), order=20, count=_new_count)


@dataclass(frozen=True)
class CaseRow:
    """A case as a list shows it: with the officer's name and whether it is late."""

    case: Case
    officer: str
    overdue: bool


def _rows(request: Request, cases: list[Case]) -> list[CaseRow]:
    with read_transaction(request.app.state.engine) as conn:
        names = officer_names(conn)
    now = request.app.state.clock()
    return [CaseRow(c, names.get(c.officer_id or "", c.officer_id or ""), c.overdue(now)) for c in cases]


def new_cases_for(request: Request, account: Account | None) -> list[CaseRow]:
    """The newest untaken cases, for the board of a leader (empty for anyone else)."""
    if account is None or account.role is not Role.LEADER:
        return []
    return _rows(request, get_cases(request).new_cases(BOARD_LIMIT))


environment.globals["new_cases_for"] = new_cases_for


def _visible(case: Case | None, account: Account) -> Case:
    """The case if ``account`` may open it (403 for another officer's, 404 when there is none)."""
    if case is None:
        raise _NotFound()
    if account.role is Role.OFFICER and case.officer_id != account.officer_id:
        raise AccessDenied(403, "forbidden")
    return case


class _NotFound(Exception):
    """No such case."""


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, view: str = Query("open", max_length=10),
               page_number: int = Query(1, alias="page", ge=1, le=1_000_000), account: Account = READERS,
               book: CaseBook = Depends(get_cases)) -> HTMLResponse:
    """The list of cases, a page at a time: open (default), overdue, resolved
    or all. (Leader, admin: every case; officer: the cases about them.)"""
    try:
        chosen = CaseView(view)
    except ValueError:
        chosen = CaseView.OPEN
    about = (account.officer_id or "") if account.role is Role.OFFICER else None
    cases, total = book.cases(chosen, officer_id=about, page=page_number, per_page=PER_PAGE)
    counts = {v.value: book.cases(v, officer_id=about, per_page=1)[1] for v in (CaseView.OPEN, CaseView.OVERDUE)}
    return page(request, "cases.html", rows=_rows(request, cases), view=chosen.value,
                views=[v.value for v in CaseView], counts=counts, officer_view=account.role is Role.OFFICER,
                page_number=page_number, pages=max(1, -(-total // PER_PAGE)), total=total)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int = Path(ge=1, le=2**53), done: str | None = Query(None, max_length=20),
              account: Account = READERS, book: CaseBook = Depends(get_cases)) -> HTMLResponse:
    """One case: what it is about, its status, outcome and due date; for
    leaders its history, notes, the citizen's comment, their number while it
    is open, and the actions. (Officer: only a case about them, without any
    of that.)"""
    try:
        case = _visible(book.get(case_id), account)
    except _NotFound:
        return page(request, "case_missing.html", status_code=404)
    return _case_page(request, case, account, book, done=done)


def _case_page(request: Request, case: Case, account: Account, book: CaseBook, *, done: str | None = None,
               error: str | None = None, status_code: int = 200) -> HTMLResponse:
    row = _rows(request, [case])[0]
    officer_view = account.role is Role.OFFICER
    events: list[CaseEvent] = [] if officer_view else book.events(case.id)
    owners = [] if officer_view else book.owners()
    owner_names = {a.id: a.name for a in book.accounts.accounts()}
    may_act = account.role is Role.LEADER or (account.role is Role.ADMIN and case.owner_id == account.id)
    letter = get_letters(request).issued(APOLOGY, case_id=case.id) if may_issue_apology(case, account) else None
    # The officer's page asks for nothing personal at all (the rules refuse it too).
    phone = None if officer_view else book.show_phone(case, account, client_address(request))
    comment = None if officer_view else book.citizen_comment(case, account)
    return page(request, "case.html", status_code=status_code, row=row, case=case, events=events,
                may_letter=may_issue_apology(case, account), letter=letter, phone=phone, comment=comment,
                owners=owners, owner_name=owner_names.get(case.owner_id or 0),
                officer_view=officer_view, may_act=may_act and case.is_open, may_note=may_act,
                may_erase=account.role is Role.LEADER and book.number_kept(case),
                outcomes=[o.value for o in CaseOutcome], done=done, error=error)


def _act(request: Request, case_id: int, account: Account, book: CaseBook, action: str, change) -> Response:
    """Run a change and go back to the case's page; a refused change is shown there (422)."""
    try:
        change(client_address(request))
    except CaseError as refused:
        case = book.get(case_id)
        if case is None or refused.code == "no_case":
            return page(request, "case_missing.html", status_code=404)
        if refused.code == "not_allowed":
            raise AccessDenied(403, "forbidden") from None
        return _case_page(request, case, account, book, error=refused.code, status_code=422)
    return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)


@router.post("/cases/{case_id}/owner")
def assign_case(request: Request, case_id: int = Path(ge=1, le=2**53), owner: int = Form(0, ge=0, le=2**53),
                account: Account = ACTORS, _csrf: None = Depends(csrf_protect),
                book: CaseBook = Depends(get_cases)) -> Response:
    """Give the case to a leader or admin. (Leader.)"""
    return _act(request, case_id, account, book, "owner",
                lambda address: book.assign(case_id, owner, account, address))


@router.post("/cases/{case_id}/status")
def move_case(request: Request, case_id: int = Path(ge=1, le=2**53), status: str = Form("", max_length=20),
              account: Account = ACTORS, _csrf: None = Depends(csrf_protect),
              book: CaseBook = Depends(get_cases)) -> Response:
    """Move the case one step on. (Leader.)"""
    return _act(request, case_id, account, book, "status",
                lambda address: book.move(case_id, status, account, address))


@router.post("/cases/{case_id}/outcome")
def set_outcome(request: Request, case_id: int = Path(ge=1, le=2**53), outcome: str = Form("", max_length=30),
                account: Account = ACTORS, _csrf: None = Depends(csrf_protect),
                book: CaseBook = Depends(get_cases)) -> Response:
    """Record the case's outcome. (Leader.)"""
    return _act(request, case_id, account, book, "outcome",
                lambda address: book.set_outcome(case_id, outcome, account, address))


@router.post("/cases/{case_id}/erase-callback")
def erase_callback(request: Request, case_id: int = Path(ge=1, le=2**53), confirm: str = Form("", max_length=10),
                   account: Account = Depends(require(Role.LEADER)), _csrf: None = Depends(csrf_protect),
                   book: CaseBook = Depends(get_cases)) -> Response:
    """Erase the citizen's call-back number at their request: its key is
    destroyed, the records stay verifiable. Needs the confirmation box. (Leader.)"""
    if confirm != "yes":
        case = book.get(case_id)
        if case is None:
            return page(request, "case_missing.html", status_code=404)
        return _case_page(request, case, account, book, error=ERASE_UNCONFIRMED, status_code=422)
    return _act(request, case_id, account, book, CALLBACK_ERASED,
                lambda address: book.erase_callback(case_id, account, address))


@router.post("/cases/{case_id}/notes")
def add_note(request: Request, case_id: int = Path(ge=1, le=2**53), note: str = Form("", max_length=4000),
             account: Account = ACTORS, _csrf: None = Depends(csrf_protect),
             book: CaseBook = Depends(get_cases)) -> Response:
    """Add a note to the case. (Leader.)"""
    return _act(request, case_id, account, book, "note", lambda address: book.add_note(case_id, note, account, address))


# -- letters ----------------------------------------------------------------------

_MEDIA = {"pdf": "application/pdf",
          "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def get_letters(request: Request) -> LetterDesk:
    """The letters, with the templates the server was started with (``--letter-templates``)."""
    state = request.app.state
    return LetterDesk(state.engine, state.accounts, state.cases, clock=state.clock,
                      templates=LetterTemplates(state.launch.letter_templates))


def letter_answer(request: Request, make, file_format: str, missing_page: str, back: str) -> Response:
    """A letter as a download (``make`` builds it from the client's address),
    or the page saying why there is none: 403 when the caller may not, 404
    when what it answers is gone, 409 for a comment that is not for thanks,
    500 with the template's fault when a commune's template is broken
    (``back``: where its button leads)."""
    try:
        letter: Letter = make(client_address(request))
    except LetterError as refused:
        if refused.code == "not_allowed":
            raise AccessDenied(403, "forbidden") from None
        if refused.code in ("no_case", "no_comment"):
            return page(request, missing_page, status_code=404)
        status = 500 if refused.code == "template" else 409
        return page(request, "letter_error.html", status_code=status, code=refused.code,
                    template_file=getattr(refused, "template", ""), detail=refused.detail, back=back)
    content = render_pdf(letter.document) if file_format == "pdf" else render_docx(letter.document)
    # Named in ASCII: a browser saves it as is; never kept in shared caches (it names the citizen).
    return Response(content, media_type=_MEDIA[file_format], headers={
        "Content-Disposition": f'attachment; filename="{letter.file_stem}.{file_format}"',
        "Cache-Control": "no-store"})


@router.get("/cases/{case_id}/letters/apology.pdf")
def apology_pdf(request: Request, case_id: int = Path(ge=1, le=2**53), account: Account = ACTORS,
                desk: LetterDesk = Depends(get_letters)) -> Response:
    """The case's apology letter as a PDF to sign. (Leader; the admin the case is given to.)"""
    return letter_answer(request, lambda address: desk.apology(case_id, account, address), "pdf",
                         "case_missing.html", f"/cases/{case_id}")


@router.get("/cases/{case_id}/letters/apology.docx")
def apology_docx(request: Request, case_id: int = Path(ge=1, le=2**53), account: Account = ACTORS,
                 desk: LetterDesk = Depends(get_letters)) -> Response:
    """The case's apology letter as a DOCX to edit. (Leader; the admin the case is given to.)"""
    return letter_answer(request, lambda address: desk.apology(case_id, account, address), "docx",
                         "case_missing.html", f"/cases/{case_id}")
