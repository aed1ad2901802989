"""The periodic reports page: choose a period (as on the board) and the
commune or one officer, see the report's figures, download the report as
XLSX or PDF, and (leaders) make the period's evidence archive. The
reminder ahead of the 15 June and 15 December deadlines is drawn on the
board and the home page (``report_reminder_for``) and here.

Who may use it:

* leaders: any report, the leaders' version (comments' texts, never names or
  phone numbers), and the evidence archive;
* the admin and observers: any report without comments' texts;
* an officer: only their own officer report (403 for the commune's or another
  officer's).

Every download is audited (``report.download``; the archive as ``report.archive``).
The figures are :func:`server.reports.build_report`'s, the files
:mod:`server.report_files`' and :mod:`server.evidence`'s.
"""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from server.accounts import Account, AccountBook, Role
from server.deps import AccessDenied
from server.evidence import archive_filename, archives_made, make_archive
from server.i18n import translator
from server.report_files import render_report_pdf, report_filename, write_xlsx
from server.reports import REPORT_KINDS, Reminder, build_report, period_code, period_label, reminder_for
from server.settings import ServerSettings, load_settings
from server.store import read_transaction
from server.store.ratings import officer_names
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.board import PeriodChoice, choose_period, figures_context, level_keys, other_reasons, today_in
from server.web.render import environment, page, register_nav, request_language

__all__ = ["router", "report_reminder_for", "MEDIA_TYPES"]

router = APIRouter(include_in_schema=False)
register_nav("/reports", "reports.nav", (Role.LEADER, Role.OBSERVER, Role.ADMIN, Role.OFFICER), order=35)

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "zip": "application/zip",
}
_READERS = (Role.LEADER, Role.OBSERVER, Role.ADMIN, Role.OFFICER)


def report_reminder_for(request: Request, account: Account | None) -> dict | None:
    """The deadline reminder for a leader or the admin (None for anyone
    else, or when no report is due): its words and the link to make it."""
    if account is None or account.role not in (Role.LEADER, Role.ADMIN):
        return None
    engine = request.app.state.engine
    settings = load_settings(engine)
    reminder: Reminder | None = reminder_for(engine, request.app.state.clock(), settings)
    if reminder is None:
        return None
    t = translator(request_language(request))
    words = dict(report=t(f"reports.reminder.{reminder.period.kind.value}"),
                 period=period_label(reminder.period, t), deadline=reminder.deadline.strftime("%d/%m/%Y"),
                 days=reminder.days_left)
    key = "late" if reminder.late else "today" if reminder.days_left == 0 else "due"
    return {"text": t(f"reports.reminder.{key}", **words), "late": reminder.late, "code": reminder.code,
            "href": f"/reports?kind={reminder.period.kind.value}&day={reminder.period.first.isoformat()}"}


environment.globals["report_reminder_for"] = report_reminder_for


class _UnknownOfficer(Exception):
    """A report asked for an officer neither the roster nor the ratings know."""


def _scope(account: Account, officer: str | None, names: dict[str, str]) -> str | None:
    """The officer a report is about (None: the commune's), as ``account`` may ask for it."""
    wanted = (officer or "").strip() or None
    if account.role is Role.OFFICER:
        if not account.officer_id or (wanted is not None and wanted != account.officer_id):
            raise AccessDenied(403, "forbidden")
        return account.officer_id
    if wanted is not None and wanted not in names:
        raise _UnknownOfficer(wanted)
    return wanted


def _choice(request: Request, settings: ServerSettings, kind: str | None, day: str | None, first: str | None,
            last: str | None, flagged: str | None) -> PeriodChoice:
    return choose_period(kind or "month", day, first, last, flagged, today=today_in(request, settings),
                         zone=settings.zone)


def _asked(request: Request, account: Account, officer: str | None, kind: str | None, day: str | None,
           first: str | None, last: str | None,
           flagged: str | None) -> tuple[ServerSettings, dict[str, str], str | None, PeriodChoice] | Response:
    """What a report's page or download asks for: the settings, the
    officers' names, the officer in scope (as ``account`` may ask) and the
    period; or the page saying the officer is unknown."""
    settings = load_settings(request.app.state.engine)
    with read_transaction(request.app.state.engine) as conn:
        names = officer_names(conn)
    try:
        officer_id = _scope(account, officer, names)
    except _UnknownOfficer:
        return page(request, "officer_missing.html", status_code=404)
    return settings, names, officer_id, _choice(request, settings, kind, day, first, last, flagged)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, kind: str | None = Query(None, max_length=10),
                 day: str | None = Query(None, max_length=10), first: str | None = Query(None, max_length=10),
                 last: str | None = Query(None, max_length=10), flagged: str | None = Query(None, max_length=10),
                 officer: str | None = Query(None, max_length=100),
                 account: Account = Depends(require(*_READERS))) -> HTMLResponse:
    """The report of a period for the commune or one officer, this month's
    by default, with its downloads. (Leader, observer, admin: any; officer:
    only their own, 403 for any other.)"""
    asked = _asked(request, account, officer, kind, day, first, last, flagged)
    if isinstance(asked, Response):
        return asked
    settings, names, officer_id, choice = asked
    engine = request.app.state.engine
    report = build_report(engine, choice.period, officer_id=officer_id, exclusions=choice.exclusions,
                          settings=settings, now=request.app.state.clock())
    lang = request_language(request)
    t = translator(lang)
    code = period_code(choice.period)
    context = figures_context(choice, settings, lang, t)
    context["kinds"] = [k.value for k in REPORT_KINDS]
    archive = archives_made(engine, [code]).get(code) if account.role is Role.LEADER else None
    scope = {"officer": officer_id} if officer_id and account.role is not Role.OFFICER else {}
    later = choice.period.shift(1)
    pager = {"previous": choice.query(choice.period.shift(-1), **scope),
             "next": choice.query(later, **scope) if later.first <= choice.today else None,
             "current": choice.query(type(choice.period).of(choice.period.kind if choice.period.kind.value != "range"
                                                             else "month", choice.today, settings.zone), **scope)}
    return page(request, "reports.html", report=report, levels=level_keys([report.figures]), names=names,
                officer_id=officer_id, code=code, archive=archive, leader=account.role is Role.LEADER,
                pager=pager, other_reasons=other_reasons(report.reasons), **context)


@router.post("/reports/download")
def report_download(request: Request, kind: str = Form("month", max_length=10), day: str = Form("", max_length=10),
                    first: str = Form("", max_length=10), last: str = Form("", max_length=10),
                    flagged: str = Form("", max_length=10), officer: str = Form("", max_length=100),
                    fmt: str = Form("xlsx", alias="format", max_length=5),
                    account: Account = Depends(require(*_READERS)), _csrf: None = Depends(csrf_protect),
                    accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Download a report as XLSX or PDF; audited. (Leader: with comments'
    texts; observer, admin: without; officer: only their own.)"""
    if fmt not in ("xlsx", "pdf"):
        fmt = "xlsx"
    asked = _asked(request, account, officer, kind, day, first, last, flagged)
    if isinstance(asked, Response):
        return asked
    settings, _names, officer_id, choice = asked
    engine = request.app.state.engine
    now = request.app.state.clock()
    report = build_report(engine, choice.period, officer_id=officer_id, exclusions=choice.exclusions,
                          with_comment_texts=account.role is Role.LEADER, settings=settings, now=now)
    code = period_code(choice.period)
    accounts.audit(account.username, "report.download", code,
                   f"format={fmt} scope={officer_id or 'commune'}" + (" texts" if report.with_comment_texts else ""),
                   client_address(request))
    headers = {"Content-Disposition": f'attachment; filename="{report_filename(report, code, fmt)}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if fmt == "pdf":
        data = render_report_pdf(report, settings, day=now.astimezone(settings.zone).date())
        return Response(data, media_type=MEDIA_TYPES["pdf"], headers=headers)
    handle, path = tempfile.mkstemp(prefix="hai-long-report-", suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(report, path, commune=settings.commune_name, lang=request_language(request),
                   zone_name=settings.timezone)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type=MEDIA_TYPES["xlsx"], headers=headers,
                        background=BackgroundTask(os.unlink, path))


@router.post("/reports/archive")
def report_archive(request: Request, kind: str = Form("month", max_length=10), day: str = Form("", max_length=10),
                   first: str = Form("", max_length=10), last: str = Form("", max_length=10),
                   flagged: str = Form("", max_length=10),
                   account: Account = Depends(require(Role.LEADER)), _csrf: None = Depends(csrf_protect)) -> Response:
    """Make the period's evidence archive and download it; audited and noted
    for the reminder. (Leader.)"""
    engine = request.app.state.engine
    settings = load_settings(engine)
    choice = _choice(request, settings, kind, day, first, last, flagged)
    handle, path = tempfile.mkstemp(prefix="hai-long-archive-", suffix=".zip")
    os.close(handle)
    try:
        made = make_archive(engine, choice.period, path, actor=account.username, address=client_address(request),
                            clock=request.app.state.clock, exclusions=choice.exclusions)
    except BaseException:
        os.unlink(path)
        raise
    headers = {"Content-Disposition": f'attachment; filename="{archive_filename(made.code)}"',
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=MEDIA_TYPES["zip"], headers=headers,
                        background=BackgroundTask(os.unlink, path))
