"""The dashboard's accounts, managed by the admin: list, create with a role
(an officer's account tied to their entry in the current roster), reset a
password, close an account. Every change is audited by :class:`AccountBook`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import MIN_PASSWORD_CHARS, Account, AccountBook, AccountError, Role
from server.deps import get_rosters
from server.roster import RosterStore
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.render import page, register_nav

__all__ = ["router", "roster_officers"]

router = APIRouter(include_in_schema=False)
register_nav("/accounts", "nav.accounts", (Role.ADMIN,), order=80)

_NOTICES = {"created", "password", "deactivated", "reactivated"}


def roster_officers(rosters: RosterStore) -> list[dict[str, Any]]:
    """The officers of the current roster (``id``, ``name``, ``title``…), empty before any roster."""
    current = rosters.current()
    if not current:
        return []
    return list(json.loads(current[0]).get("officers") or [])


def _accounts_page(request: Request, accounts: AccountBook, rosters: RosterStore, *, status_code: int = 200,
                   notice: str | None = None, error: str | None = None,
                   form: dict[str, str] | None = None) -> HTMLResponse:
    officers = roster_officers(rosters)
    names = {o["id"]: o.get("name") or o["id"] for o in officers}
    return page(request, "accounts.html", status_code=status_code, accounts=accounts.accounts(),
                officers=officers, officer_names=names, roles=list(Role),
                notice=notice if notice in _NOTICES else None, error=error, form=form or {},
                min_password=MIN_PASSWORD_CHARS)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, notice: str | None = Query(None, max_length=20),
                  _account: Account = Depends(require(Role.ADMIN)),
                  accounts: AccountBook = Depends(get_accounts),
                  rosters: RosterStore = Depends(get_rosters)) -> HTMLResponse:
    """Every account and the form to add one. (Admin.)"""
    return _accounts_page(request, accounts, rosters, notice=notice)


@router.post("/accounts")
def create_account(request: Request, username: str = Form("", max_length=64),
                   display_name: str = Form("", max_length=200), role: str = Form("", max_length=16),
                   officer_id: str = Form("", max_length=200), password: str = Form("", max_length=1024),
                   account: Account = Depends(require(Role.ADMIN)), _csrf: None = Depends(csrf_protect),
                   accounts: AccountBook = Depends(get_accounts),
                   rosters: RosterStore = Depends(get_rosters)) -> Response:
    """Add an account. (Admin.)"""
    form = {"username": username, "display_name": display_name, "role": role, "officer_id": officer_id}
    try:
        if role not in {r.value for r in Role}:
            raise AccountError("bad_role", "choose a role")
        if role == Role.OFFICER and officer_id not in {o["id"] for o in roster_officers(rosters)}:
            raise AccountError("officer_needed", "choose the officer in the current roster")
        accounts.create(username, password, role, display_name=display_name, officer_id=officer_id or None,
                        actor=account.username, address=client_address(request))
    except AccountError as exc:
        return _accounts_page(request, accounts, rosters, status_code=400, error=f"accounts.error.{exc.code}",
                              form=form)
    return RedirectResponse("/accounts?notice=created", status_code=303)


@router.post("/accounts/{account_id}/password")
def reset_password(request: Request, account_id: int = Path(ge=1), password: str = Form("", max_length=1024),
                   account: Account = Depends(require(Role.ADMIN)), _csrf: None = Depends(csrf_protect),
                   accounts: AccountBook = Depends(get_accounts),
                   rosters: RosterStore = Depends(get_rosters)) -> Response:
    """Give an account a new password; its sessions end. (Admin.)"""
    try:
        accounts.set_password(account_id, password, actor=account.username, address=client_address(request))
    except AccountError as exc:
        return _accounts_page(request, accounts, rosters, status_code=400, error=f"accounts.error.{exc.code}")
    return RedirectResponse("/accounts?notice=password", status_code=303)


@router.post("/accounts/{account_id}/{change}")
async def open_or_close_account(request: Request, account_id: int = Path(ge=1),
                                change: str = Path(pattern="^(deactivate|reactivate)$"),
                                account: Account = Depends(require(Role.ADMIN)), _csrf: None = Depends(csrf_protect),
                                accounts: AccountBook = Depends(get_accounts),
                                rosters: RosterStore = Depends(get_rosters)) -> Response:
    """Close an account (its sessions end) or open a closed one again, as it was. (Admin.)"""
    act = accounts.deactivate if change == "deactivate" else accounts.reactivate
    try:
        await run_in_threadpool(act, account_id, actor=account.username, address=client_address(request))
    except AccountError as exc:
        return await run_in_threadpool(_accounts_page, request, accounts, rosters, status_code=400,
                                       error=f"accounts.error.{exc.code}")
    return RedirectResponse(f"/accounts?notice={change}d", status_code=303)
