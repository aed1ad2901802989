"""The audit log, newest first, a page at a time. (Admin.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from server.accounts import Account, AccountBook, Role
from server.web.auth import get_accounts, require
from server.web.render import page, register_nav

__all__ = ["router", "PER_PAGE"]

router = APIRouter(include_in_schema=False)
register_nav("/audit", "nav.audit", (Role.ADMIN,), order=90)

PER_PAGE = 50


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, page_number: int = Query(1, alias="page", ge=1, le=1_000_000),
               _account: Account = Depends(require(Role.ADMIN)),
               accounts: AccountBook = Depends(get_accounts)) -> HTMLResponse:
    """One page of the audit log: logins (successes and failures) and every change. (Admin.)"""
    entries, total = accounts.audit_entries(page=page_number, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return page(request, "audit.html", entries=entries, total=total, page_number=page_number, pages=pages)
