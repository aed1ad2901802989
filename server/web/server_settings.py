"""The server's own settings: the commune's time zone (every day and time on
the pages is in it), how many ratings an officer needs to be ranked, the
commune's name when it should differ from the roster's, how long the comment
form stays open and comments are kept, which ratings open a follow-up case
and how soon it is due (the days off not counted), the e-mail server for alerts, and the letterhead of
letters and reports. (Admin.)

The SMTP password is never sent back to the page: an empty field keeps it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, AccountBook, Role
from server.settings import LETTERHEAD_KEYS, SettingError, load_settings, save_setting
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.render import page, register_nav

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
register_nav("/settings", "nav.settings", (Role.ADMIN,), order=85)

ADMIN = Depends(require(Role.ADMIN))
# The text fields of the form, in order; each is the setting of the same name.
FIELDS = ("timezone", "rank_min_ratings", "commune_name", "comment_days", "comment_retention_days",
          "callback_retention_months", "home_visit_hours", "survey_posts_per_hour",
          "case_levels", "case_due_working_days", "holidays", "smtp_host", "smtp_port", "smtp_from", "smtp_user",
          "alert_to",
          *LETTERHEAD_KEYS)
# Fields longer than 500 characters: a year or more of days off, 12 characters each.
_LONGEST = {"holidays": 5000}
# Fields an empty value leaves as they are (the roster's name; a password never shown).
KEEP_WHEN_EMPTY = ("commune_name", "smtp_password")


def _form_of(request: Request) -> dict[str, str]:
    settings = load_settings(request.app.state.engine)
    form = {key: str(getattr(settings, key)) for key in FIELDS}
    form["alert_to"] = ", ".join(settings.alert_to)
    form["holidays"] = ", ".join(f"{day[8:10]}/{day[5:7]}/{day[0:4]}" for day in settings.holidays)
    form["smtp_starttls"] = "1" if settings.smtp_starttls else ""
    form["smtp_password"] = ""
    return form


def _page(request: Request, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    # Without the server's public address the alert e-mails carry no link: said beside the mail settings.
    return page(request, "server_settings.html", status_code=status_code,
                mail_links=bool(request.app.state.launch.public_url), **context)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, saved: int = 0, _account: Account = ADMIN) -> HTMLResponse:
    """The server's settings. (Admin.)"""
    return _page(request, form=_form_of(request), refused=None, saved=bool(saved))


@router.post("/settings")
async def save_settings(request: Request, account: Account = ADMIN, _csrf: None = Depends(csrf_protect),
                        accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Check and keep the settings; a refused value is shown with its reason
    and everything typed stays in the form (but the password). (Admin.)"""
    submitted = await request.form()
    return await run_in_threadpool(_save, request, submitted, account, accounts)


def _save(request: Request, submitted: Any, account: Account, accounts: AccountBook) -> Response:
    before = _form_of(request)
    # A field the form did not send stays as it is (the checkbox: when the
    # form was the whole page, which always sends the password field).
    typed = {key: str(submitted[key])[:_LONGEST.get(key, 500)].strip() if key in submitted else before[key]
             for key in (*FIELDS, "smtp_password")}
    whole_form = "smtp_password" in submitted
    typed["smtp_starttls"] = ("1" if submitted.get("smtp_starttls") else "") if whole_form else before["smtp_starttls"]
    engine = request.app.state.engine
    changes = []
    for key in (*FIELDS, "smtp_password", "smtp_starttls"):
        value: str | bool = typed[key]
        if value == before[key] or (key in KEEP_WHEN_EMPTY and not value):
            continue
        if key == "smtp_starttls":
            value = bool(value)
        try:
            save_setting(engine, key, value)
        except SettingError as error:
            typed["smtp_password"] = ""
            return _page(request, status_code=422, form=typed, refused=error, saved=False)
        # Never the password itself in the audit log.
        changes.append("smtp_password: changed" if key == "smtp_password" else f"{key}: {before[key]} → {value}")
    if changes:
        accounts.audit(account.username, "settings.change", None, "; ".join(changes), client_address(request))
    return RedirectResponse("/settings?saved=1", status_code=303)
