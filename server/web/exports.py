"""Exports of the ratings for a range of local days, as CSV (UTF-8 with a BOM,
for Excel) or XLSX, with officers' and counters' names and local times, the
column headers in the page's language. Every export is audited.

Leaders only, as the issue asks. The admin is a technician: they keep the
server, accounts and tablets running but do not take the commune's ratings
out of it; an observer reads scores on the pages. The rows come from
:mod:`server.export`, which never writes a citizen's phone number (a
call-back shows as requested yes/no) and reads the ratings a page at a
time: the CSV streams as it is written; the XLSX is written to a temporary
file first (a workbook is a zip, finished only at its end), then sent and
deleted.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from server.accounts import Account, AccountBook, Role
from server.export import EXPORT_COLUMNS, ExportRange, csv_chunks, write_xlsx
from server.i18n import translator
from server.settings import load_settings
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.board import today_in
from server.web.render import page, register_nav, request_language

__all__ = ["router", "FORMATS", "READY_COOKIE", "column_headers", "export_filename"]

router = APIRouter(include_in_schema=False)
register_nav("/exports", "exports.nav", (Role.LEADER,), order=40)

READY_COOKIE = "export_ready"
"""The cookie an export's answer sets to the page's token (:func:`_ready`)."""
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
"""The formats offered and their media types."""


def column_headers(lang: str) -> list[str]:
    """The export's header row in the page's language (:data:`~server.export.EXPORT_COLUMNS` order)."""
    t = translator(lang)
    return [t(f"exports.column.{name}") for name in EXPORT_COLUMNS]


def export_filename(first: date, last: date, fmt: str) -> str:
    """``hai-long-2026-03-01_2026-03-31.csv``: the range in the file's name."""
    return f"hai-long-{first.isoformat()}_{last.isoformat()}.{fmt}"


def _exports_page(request: Request, first: date, last: date, fmt: str = "csv", *, status_code: int = 200,
                  error: str | None = None) -> HTMLResponse:
    return page(request, "exports.html", status_code=status_code, first=first, last=last, fmt=fmt,
                formats=tuple(FORMATS), error=error)


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, account: Account = Depends(require(Role.LEADER))) -> HTMLResponse:
    """The export form, this month so far by default. (Leader.)"""
    today = today_in(request, load_settings(request.app.state.engine))
    return _exports_page(request, today.replace(day=1), today)


def _parse(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.post("/exports")
async def export_download(request: Request, first: str = Form("", max_length=10), last: str = Form("", max_length=10),
                          fmt: str = Form("csv", alias="format", max_length=5), ready: str = Form("", max_length=64),
                          account: Account = Depends(require(Role.LEADER)), _csrf: None = Depends(csrf_protect),
                          accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Download the ratings of a range of local days as CSV or XLSX. (Leader.)

    ``ready``: a token the page made; the file's answer sets it as the
    ``export_ready`` cookie, which tells the page that the file has begun
    to arrive (a month's XLSX takes many seconds to build, and the page says
    so until then: ``export-wait.js``)."""
    start, end = _parse(first), _parse(last)
    if fmt not in FORMATS:
        fmt = "csv"
    if start is None or end is None:
        today = today_in(request, await run_in_threadpool(load_settings, request.app.state.engine))
        return _exports_page(request, start or today, end or today, fmt, status_code=400,
                             error="exports.error.dates")
    if end < start:
        return _exports_page(request, start, end, fmt, status_code=400, error="exports.error.order")
    engine = request.app.state.engine
    chosen = ExportRange(start, end)
    header = column_headers(request_language(request))
    name = export_filename(start, end, fmt)
    await run_in_threadpool(accounts.audit, account.username, "export", fmt,
                            f"{start.isoformat()}..{end.isoformat()}", client_address(request))
    disposition = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                   "X-Content-Type-Options": "nosniff"}
    if fmt == "csv":
        return _ready(StreamingResponse(csv_chunks(engine, chosen, header=header), media_type=FORMATS["csv"],
                                        headers=disposition), ready)
    handle, path = tempfile.mkstemp(prefix="hai-long-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await run_in_threadpool(write_xlsx, engine, path, chosen, header=header,
                                title=translator(request_language(request))("exports.sheet"))
    except BaseException:
        os.unlink(path)
        raise
    return _ready(FileResponse(path, media_type=FORMATS["xlsx"], headers=disposition,
                               background=BackgroundTask(os.unlink, path)), ready)


_READY_TOKEN = re.compile(r"[0-9a-f]{16,64}")


def _ready(response: Response, token: str) -> Response:
    """The file's answer, telling the page that made ``token`` that it has
    come (a cookie the page's script reads: it holds nothing but the token)."""
    if _READY_TOKEN.fullmatch(token):
        response.set_cookie(READY_COOKIE, token, max_age=120, path="/exports", samesite="strict")
    return response
