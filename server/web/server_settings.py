"""The server's own settings: the commune's time zone (every day and time on
the pages is in it), how many ratings an officer needs to be ranked, and the
commune's name when it should differ from the roster's. (Admin.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, AccountBook, Role
from server.settings import SettingError, load_settings, save_setting
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.render import page, register_nav

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
register_nav("/settings", "nav.settings", (Role.ADMIN,), order=85)

ADMIN = Depends(require(Role.ADMIN))
# The fields of the form, in order: (setting key, form field).
FIELDS = (("timezone", "timezone"), ("rank_min_ratings", "rank_min_ratings"), ("commune_name", "commune_name"))


def _form_of(request: Request) -> dict[str, str]:
    settings = load_settings(request.app.state.engine)
    return {"timezone": settings.timezone, "rank_min_ratings": str(settings.rank_min_ratings),
            "commune_name": settings.commune_name}


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, saved: int = 0, _account: Account = ADMIN) -> HTMLResponse:
    """The server's settings. (Admin.)"""
    return page(request, "server_settings.html", form=_form_of(request), refused=None, saved=bool(saved))


@router.post("/settings")
def save_settings(request: Request, timezone: str = Form("", max_length=64),
                  rank_min_ratings: str = Form("", max_length=9), commune_name: str = Form("", max_length=200),
                  account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                  accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Check and keep the settings; a refused value is shown with its reason
    and everything typed stays in the form. (Admin.)"""
    typed = {"timezone": timezone.strip(), "rank_min_ratings": rank_min_ratings.strip(),
             "commune_name": commune_name.strip()}
    before = _form_of(request)
    engine = request.app.state.engine
    changes = []
    for key, field in FIELDS:
        value = typed[field]
        if value == before[field] or (key == "commune_name" and not value):
            continue  # unchanged; an empty name keeps the roster's
        try:
            save_setting(engine, key, value)
        except SettingError as error:
            return page(request, "server_settings.html", status_code=422, form=typed, refused=error, saved=False)
        changes.append(f"{key}: {before[field]} → {value}")
    if changes:
        accounts.audit(account.username, "settings.change", None, "; ".join(changes), client_address(request))
    return RedirectResponse("/settings?saved=1", status_code=303)
