"""The way in: ``/`` sends each role to its home page (:data:`ROLE_HOME`);
``/home`` lists what the account may open."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.web.auth import require
from server.web.render import page, register_nav

__all__ = ["router", "ROLE_HOME"]

router = APIRouter(include_in_schema=False)

ROLE_HOME: dict[Role, str] = {
    Role.ADMIN: "/home",
    Role.LEADER: "/board",
    Role.OFFICER: "/me",
    Role.OBSERVER: "/board",
}
"""Where ``/`` sends each role: the board for those who read the commune's
scores, an officer's own page for an officer, the menu for the technician."""

register_nav("/home", "nav.home", tuple(Role), order=0)


@router.get("/")
def root(account: Account = Depends(require())) -> Response:
    """The role's home page (any logged-in account; anonymous visitors go to the login page)."""
    return RedirectResponse(ROLE_HOME[account.role], status_code=303)


@router.get("/home", response_class=HTMLResponse)
def home_page(request: Request, account: Account = Depends(require())) -> HTMLResponse:
    """A placeholder home page (any logged-in account)."""
    return page(request, "home.html")
