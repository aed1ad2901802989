"""Drawing the dashboard's pages: the Jinja2 environment, the navigation
and :func:`page`, which every page route returns.

    @router.get("/board")
    def board(request: Request, account: Account = Depends(require(Role.LEADER, Role.ADMIN))) -> HTMLResponse:
        return page(request, "board.html", rows=...)

A template extends ``base.html`` and fills ``{% block title %}`` and
``{% block content %}``. Besides what the route passes, every template gets:

* ``account`` (the logged-in :class:`~server.accounts.Account` or None) and ``role``;
* ``lang`` (``vi`` or ``en``) and ``t(key, **values)``, the translation (:mod:`server.i18n`);
* ``csrf``: the session's token, for the hidden field every POST form carries
  (``<input type="hidden" name="csrf" value="{{ csrf }}">``);
* ``nav``: the menu items the account's role may use, ``path`` (the current path);
* ``commune``: the commune's name; ``local(utc_text)``: a stored UTC time as
  the commune's local date and time (``local(x, "date")`` for the date only).

A page module adds its menu item once, at import, with :func:`register_nav`;
an item may carry a ``count`` (``count(request, account) -> int``) that the
menu shows as a badge when it is not zero (``nav_counts``, by path). An open
page refreshes its menu, badges included, from ``/menu`` (:mod:`.menu`)
every minute and when its window regains focus, so a new case shows without
a reload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.accounts import Account, Role
from server.i18n import Translate, day_in_words, language_of, translator
from server.settings import load_settings

__all__ = [
    "TEMPLATES_DIR", "STATIC_DIR", "LANG_COOKIE", "NavItem", "environment",
    "register_nav", "nav_for", "page", "menu", "local_time", "request_language",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
LANG_COOKIE = "lang"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
"""The one Jinja2 environment of the dashboard (autoescaped HTML)."""


def _day_words(text: str | None, t: Translate) -> str:
    """The filter ``day_words``: an ISO day (a date field's value) in words
    (:func:`server.i18n.day_in_words`); nothing for text that is no day."""
    try:
        return day_in_words(date.fromisoformat(text or ""), t)
    except ValueError:
        return ""


environment.filters["day_words"] = _day_words

# Pages are private and change with every rating: no cache, no framing, and
# scripts and styles only from the server itself.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
}


@dataclass(frozen=True)
class NavItem:
    """A menu entry: where it goes, its translation key, who sees it, its place (small first)."""

    path: str
    label_key: str
    roles: frozenset[Role]
    order: int = 50
    count: Callable[[Request, Account], int] | None = None
    """A number to show beside the entry (a badge), when not zero."""


_NAV: dict[str, NavItem] = {}


def register_nav(path: str, label_key: str, roles: tuple[Role, ...] | frozenset[Role], order: int = 50,
                 count: Callable[[Request, Account], int] | None = None) -> None:
    """Add (or replace) a menu entry. Show it only to roles that the route's
    own :func:`~server.web.auth.require` lets in: the menu is a convenience,
    the dependency is the rule. ``count`` gives the entry's badge."""
    _NAV[path] = NavItem(path, label_key, frozenset(roles), order, count)


def nav_for(role: Role | None) -> list[NavItem]:
    """The menu of a role, in order (empty when nobody is logged in)."""
    if role is None:
        return []
    return sorted((item for item in _NAV.values() if role in item.roles), key=lambda item: (item.order, item.path))


def request_language(request: Request) -> str:
    """The page language: the ``lang`` cookie, Vietnamese by default."""
    return language_of(request.cookies.get(LANG_COOKIE))


def local_time(utc_text: str | None, zone: ZoneInfo, style: str = "datetime") -> str:
    """A stored UTC time (ISO 8601) as the commune's local ``dd/mm/yyyy HH:MM``
    (``style="date"``: the date only; ``"seconds"``: with seconds). Empty for None."""
    if not utc_text:
        return ""
    try:
        when = datetime.fromisoformat(utc_text).astimezone(zone)
    except ValueError:
        return utc_text
    formats = {"date": "%d/%m/%Y", "seconds": "%d/%m/%Y %H:%M:%S"}
    return when.strftime(formats.get(style, "%d/%m/%Y %H:%M"))


def _menu(request: Request, account: Account | None) -> dict[str, Any]:
    """The menu's values: the role's items and their badges."""
    nav = nav_for(account.role if account else None)
    return {"nav": nav,
            "nav_counts": {item.path: item.count(request, account) for item in nav if item.count and account}}


def menu(request: Request, path: str) -> HTMLResponse:
    """The menu alone (``menu.html``), its badges counted now, ``path``
    marked as the current page: what an open page fetches to refresh it."""
    session = getattr(request.state, "session", None)
    account: Account | None = session.account if session else None
    values = {"t": translator(request_language(request)), "path": path, **_menu(request, account)}
    return HTMLResponse(environment.get_template("menu.html").render(values), headers=dict(_PAGE_HEADERS))


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page drawn from ``template`` with ``context`` and everything every
    template gets (see the module's description)."""
    session = getattr(request.state, "session", None)
    account: Account | None = session.account if session else None
    lang = request_language(request)
    t = translator(lang)
    # The commune's name and time zone, from the server's settings: every
    # time on a page is shown in that zone, never in UTC.
    settings = load_settings(request.app.state.engine)
    zone = settings.zone
    values = {
        "request": request,
        "account": account,
        "role": account.role if account else None,
        "lang": lang,
        "t": t,
        "csrf": session.csrf if session else "",
        **_menu(request, account),
        "path": request.url.path,
        "commune": settings.commune_name or t("app.commune_unknown"),
        "local": lambda text, style="datetime": local_time(text, zone, style),
        "Role": Role,
    }
    values.update(context)
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=dict(_PAGE_HEADERS))
