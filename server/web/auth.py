"""Who is asking, for the dashboard's pages and the operators' API: the
dependencies every route puts in its signature, and the login, logout and
language pages.

    account: Account = Depends(require(Role.ADMIN, Role.LEADER))   # who may use it
    _csrf: None = Depends(csrf_protect)                            # on every POST

* :func:`current_account` — the logged-in :class:`Account`, or None;
* :func:`require` ``(*roles)`` — the account if its role is one of ``roles``;
  otherwise an anonymous visitor is sent to ``/login`` (a page) or answered
  401 (under ``/api/``), and a logged-in one of another role gets 403;
* :func:`csrf_protect` — refuses (403) a request whose form field ``csrf``
  or header ``X-CSRF-Token`` is not its session's token;
* :func:`get_accounts` — the :class:`AccountBook` (to audit a change:
  ``accounts.audit(account.username, "roster.update", target, detail, client_address(request))``).

They are defined in :mod:`server.deps` (the API's routes use them too) and
re-exported here for the pages. The session cookie ``hailong_session`` is HttpOnly, SameSite=Strict, and
Secure when the request came over HTTPS; the server keeps only the token's
digest (:mod:`server.accounts`).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import SESSION_LIFETIME, AccountBook, LoginRefused, Session
from server.answers import error_answer
from server.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    AccessDenied,
    client_address,
    csrf_protect,
    current_account,
    current_session,
    get_accounts,
    require,
)
from server.web.render import LANG_COOKIE, page
from sync.protocol import API_PREFIX

__all__ = [
    "SESSION_COOKIE", "LOGIN_COOKIE", "CSRF_HEADER", "AccessDenied", "router",
    "get_accounts", "current_session", "current_account", "require", "csrf_protect",
    "client_address", "safe_next", "handle_access_denied",
]

LOGIN_COOKIE = "hailong_login"
"""Holds the login form's CSRF token before there is a session (double submit)."""

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Where to go after logging in or switching language: only a path of
    this server (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def handle_access_denied(app: FastAPI) -> None:
    """Answer :class:`AccessDenied`: JSON under ``/api/``, else a redirect to
    ``/login`` (401) or the error page (403)."""

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        if request.url.path.startswith(API_PREFIX):
            detail = {"login_required": "log in on the dashboard first",
                      "forbidden": "your account's role may not use this route",
                      "csrf": "the request does not carry the session's CSRF token"}[exc.reason]
            return error_answer(exc.status, exc.reason, detail)
        if exc.status == 401 and request.headers.get("HX-Request") == "true":
            # A page's own refresh (the menu) after its session ended: the
            # browser goes to the login page, and back to that page after.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            target = safe_next(current.path + (f"?{current.query}" if current.query else ""))
            return Response(status_code=401, headers={"HX-Redirect": f"/login?next={quote(target, safe='/')}",
                                                      "Cache-Control": "no-store"})
        if exc.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
            response.headers["Cache-Control"] = "no-store"
            return response
        return page(request, "error.html", status_code=exc.status, reason=exc.reason)


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- pages ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = Query("/", max_length=500),
               session: Session | None = Depends(current_session)) -> Response:
    """The login page (anyone). A logged-in visitor goes on to ``next``."""
    if session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next)


def _login_page(request: Request, next_path: str, *, status_code: int = 200, error: str | None = None,
                username: str = "", minutes: int = 0) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status_code=status_code, login_csrf=token, next=safe_next(next_path),
                    error=error, username=username, minutes=minutes)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=_cookie_secure(request), path="/login")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1024),
          csrf: str = Form("", max_length=200), next: str = Form("/", max_length=500),
          accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Check a login (anyone; rate-limited per username and per address)."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _login_page(request, next, status_code=403, error="login.error.expired", username=username)
    try:
        session, token = accounts.login(username, password, client_address(request))
    except LoginRefused as refused:
        if refused.locked_until is not None:
            minutes = refused.minutes_left(accounts.clock())
            return _login_page(request, next, status_code=429, username=username,
                               error="login.error.locked", minutes=minutes)
        return _login_page(request, next, status_code=401, error="login.error.wrong", username=username)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_cookie_secure(request),
                        max_age=int(SESSION_LIFETIME.total_seconds()), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: Session | None = Depends(current_session),
                 _csrf: None = Depends(csrf_protect), accounts: AccountBook = Depends(get_accounts)) -> Response:
    """End the session (any logged-in account)."""
    if session is not None:
        await run_in_threadpool(accounts.logout, session, address=client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang")
def switch_language(to: str = Query("vi", max_length=5), next: str = Query("/", max_length=500)) -> Response:
    """Switch the pages' language (anyone): a ``lang`` cookie, then back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in ("vi", "en"):
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
