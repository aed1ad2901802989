"""The officer's page "Đánh giá tại nhà": making a one-time visit for a
dossier settled at a citizen's home, and showing its link as a QR code large
enough to scan from a phone, with a ready text for SMS or Zalo (no gateway:
the officer copies it).

* ``GET /home-visits`` — the form and the newest visits (officer: their own;
  leader, admin: every officer's). (Officer, leader, admin.)
* ``POST /home-visits`` — make a visit: an officer for themselves only (403
  for anyone else), a leader or the admin for any officer. (Officer, leader, admin.)
* ``GET /home-visits/{id}?t=TOKEN`` — the visit's QR code and text, for
  whoever made it, its officer, leaders and the admin, with the token the
  making gave (only its digest is kept, so the link is shown only to whom
  holds it). (Officer, leader, admin.)

The rules are :mod:`server.home_visits`'; the citizen's pages
:mod:`server.web.home_rating`. The link uses the server's public address
(``--public-url``), as the tablets' comment QR code does.
"""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.deps import AccessDenied
from server.home_visits import HomeVisit, HomeVisitError, HomeVisits
from server.i18n import translator
from server.settings import load_settings
from server.web.auth import client_address, csrf_protect, require
from server.web.render import local_time, page, register_nav

__all__ = ["router", "home_visits", "visit_link", "qr_svg", "invitation"]

router = APIRouter(include_in_schema=False)
register_nav("/home-visits", "home_visit.nav", (Role.OFFICER, Role.LEADER, Role.ADMIN), order=15)

MAKERS = Depends(require(Role.OFFICER, Role.LEADER, Role.ADMIN))
_SIZE = re.compile(r'\s(width|height)="[^"]*"')


def home_visits(request: Request) -> HomeVisits:
    """The application's home visits (made on first use, on the server's clock)."""
    visits = getattr(request.app.state, "home_visits", None)
    if visits is None:
        visits = HomeVisits(request.app.state.engine, request.app.state.ingest, clock=request.app.state.clock)
        request.app.state.home_visits = visits
    return visits


def visit_link(request: Request, token: str) -> str:
    """The citizen's link, on the address phones reach (``--public-url``)."""
    base = (request.app.state.launch.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/h/{token}"


def qr_svg(text: str) -> str:
    """``text`` as a QR code in SVG (drawn by the page's width, not in millimetres)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    svg = image.to_string(encoding="unicode")
    return _SIZE.sub("", svg, count=2).replace("<svg ", '<svg class="qr" role="img" ', 1)


def invitation(commune: str, officer: str, dossier: str, link: str) -> str:
    """The text the officer sends by SMS or Zalo: always in Vietnamese (it is the citizen's)."""
    return translator("vi")("home_visit.invitation", commune=commune, officer=officer, dossier=dossier, link=link)


def _names(visits: HomeVisits) -> dict[str, str]:
    return {oid: o.get("name", oid) for oid, o in visits.officers().items()}


def _list_page(request: Request, account: Account, *, status_code: int = 200, error: str | None = None,
               typed: dict | None = None) -> HTMLResponse:
    visits = home_visits(request)
    officers = visits.officers()
    choices = ([(oid, o) for oid, o in officers.items()] if account.role in (Role.LEADER, Role.ADMIN)
               else [(oid, o) for oid, o in officers.items() if oid == account.officer_id])
    now = request.app.state.clock()
    rows = [(v, v.state(now)) for v in visits.recent(account)]
    settings = load_settings(request.app.state.engine)
    return page(request, "home_visits.html", status_code=status_code, choices=choices, rows=rows,
                names=_names(visits), hours=settings.home_visit_hours, error=error, typed=typed or {},
                own_missing=account.role is Role.OFFICER and account.officer_id not in officers)


@router.get("/home-visits", response_class=HTMLResponse)
def visits_page(request: Request, account: Account = MAKERS) -> HTMLResponse:
    """The form to make a visit and the newest visits. (Officer: their own;
    leader, admin: everyone's.)"""
    return _list_page(request, account)


@router.post("/home-visits", response_class=HTMLResponse)
async def make_visit(request: Request, account: Account = MAKERS, _csrf: None = Depends(csrf_protect),
                     officer_id: str = Form("", max_length=200), dossier_code: str = Form("", max_length=200)
                     ) -> Response:
    """Make a visit and show its QR code. (Officer: for themselves only;
    leader, admin: for any officer.)"""
    officer_id = officer_id or (account.officer_id or "")
    try:
        visit, token = await run_in_threadpool(lambda: home_visits(request).create(
            account, officer_id, dossier_code, address=client_address(request)))
    except HomeVisitError as refused:
        code = refused.code
        status = 403 if code == "forbidden" else 422
        return await run_in_threadpool(lambda: _list_page(
            request, account, status_code=status, error=code,
            typed={"officer_id": officer_id, "dossier_code": dossier_code}))
    return RedirectResponse(f"/home-visits/{visit.id}?t={token}", status_code=303)


@router.get("/home-visits/{visit_id}", response_class=HTMLResponse)
def visit_page(request: Request, visit_id: int = Path(ge=1, le=2**62), t: str = Query("", max_length=100),
               account: Account = MAKERS) -> HTMLResponse:
    """A visit's QR code, link and text to send. (Its maker, its officer,
    leaders and the admin, with the visit's token.)"""
    visits = home_visits(request)
    visit: HomeVisit | None = visits.visit(visit_id)
    if visit is not None and not visits.may_see(account, visit):
        raise AccessDenied(403, "forbidden")
    if visit is None or visits.with_token(visit_id, t) is None:
        return page(request, "home_visit_missing.html", status_code=404)
    link = visit_link(request, t)
    officer = _names(visits).get(visit.officer_id, visit.officer_id)
    settings = load_settings(request.app.state.engine)
    commune = settings.commune_name or translator("vi")("home_visit.commune_fallback")
    zone = settings.zone
    return page(request, "home_visit.html", visit=visit, state=visit.state(request.app.state.clock()),
                officer=officer, link=link, qr=qr_svg(link),
                text=invitation(commune, officer, visit.dossier_code, link),
                expires=local_time(visit.expires_at, zone))
