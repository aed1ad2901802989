"""The menu alone, for an open page to refresh its badges (a new case shows
without a reload). (Any logged-in account.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from server.accounts import Account, Role
from server.web.auth import require
from server.web.render import menu

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/menu", response_class=HTMLResponse)
def menu_fragment(request: Request, _account: Account = Depends(require(*Role))) -> HTMLResponse:
    """The logged-in account's menu with its badges counted now; the entry of
    the page that asks (htmx's ``HX-Current-URL``) marked current. (Any logged-in account.)"""
    return menu(request, urlsplit(request.headers.get("HX-Current-URL", "")).path)
