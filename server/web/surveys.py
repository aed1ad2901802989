"""The Fatherland Front's surveys on the dashboard: questionnaires and
campaigns (the rules are in :mod:`server.surveys`).

* ``/surveys`` — the questionnaires and campaigns (admin, observer, leader);
* ``/surveys/questionnaires/new`` (``?template=1``: the SIPAS template),
  ``/surveys/questionnaires/{id}`` and the designer's post
  ``/surveys/questionnaires`` (admin, observer; a leader sees a questionnaire
  read-only);
* ``/surveys/campaigns/new``, ``/surveys/campaigns/{id}`` (a campaign, its
  counts, public link, QR code and the form to change it), its QR code
  ``qr.svg`` and printable ``poster`` (admin, observer; leaders read);
* ``/surveys/campaigns/{id}/paper`` — typing in paper forms one after
  another (admin, observer).

The designer is one server-rendered form (:mod:`server.survey_design`):
every button posts the whole draft, so it works without JavaScript. Officers
have no access to surveys.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, Role
from server.deps import base_url
from server.i18n import Translate, translator
from server.registry import DeviceRegistry
from server.routes.surveys import survey_desk
from server.survey_design import apply_action, draft_of_form, empty_draft, options_text, plain_of_draft, was_of
from server.surveys import SurveyDesk, answers_of_form, template_questionnaire, typed_of_form
from server.web.auth import client_address, csrf_protect, require
from server.web.render import page, register_nav, request_language
from sync.survey import MAX_TEXT_ANSWER_CHARS, SurveyError

__all__ = ["router", "error_text", "qr_svg", "public_link"]

router = APIRouter(include_in_schema=False)

register_nav("/surveys", "surveys.nav", (Role.ADMIN, Role.OBSERVER, Role.LEADER), order=38)

MANAGERS = Depends(require(Role.ADMIN, Role.OBSERVER))
READERS = Depends(require(Role.ADMIN, Role.OBSERVER, Role.LEADER))
_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _manages(account: Account) -> bool:
    return account.role in (Role.ADMIN, Role.OBSERVER)


def public_link(request_base: str, token: str) -> str:
    """The address of a campaign's public link, as phones reach the server."""
    return f"{request_base}/s/{token}"


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as an SVG document (crisp at any print size)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(
        text, image_factory=qrcode.image.svg.SvgPathImage, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


def error_text(t: Translate, error: SurveyError) -> str:
    """A contract's refusal in words: what is wrong, and where (section,
    question, option, counted from 1)."""
    key = f"surveys.error.{error.code}"
    what = t(key, detail=error.detail)
    if what == key:
        what = t("surveys.error.other")
    numbers = [int(n) + 1 for n in _indexes(error.path)]
    if len(numbers) >= 3:
        where = t("surveys.designer.error_place_option", section=numbers[0], question=numbers[1], option=numbers[2])
    elif len(numbers) == 2:
        where = t("surveys.designer.error_place_question", section=numbers[0], question=numbers[1])
    elif len(numbers) == 1:
        where = t("surveys.designer.error_place_section", section=numbers[0])
    else:
        where = {"title": t("surveys.designer.form_title"), "intro": t("surveys.designer.form_intro")}.get(
            error.path, ""
        )
    return f"{where}: {what}" if where else what


def _indexes(path: str) -> list[str]:
    return re.findall(r"\[(\d+)\]", path)


# -- the list -----------------------------------------------------------------------------


def _status(desk: SurveyDesk, starts_on: date, ends_on: date) -> str:
    today = desk.today()
    return "upcoming" if today < starts_on else "ended" if today > ends_on else "running"


@router.get("/surveys", response_class=HTMLResponse)
async def surveys_page(request: Request, account: Account = READERS) -> HTMLResponse:
    """The questionnaires and campaigns. (Admin, observer, leader.)"""
    desk = survey_desk(request)
    questionnaires = await run_in_threadpool(desk.questionnaires)
    campaigns = await run_in_threadpool(desk.campaigns)
    shown = [
        {
            "stored": c,
            "counts": counts,
            "total": sum(counts.values()),
            "status": _status(desk, c.contract.starts_on, c.contract.ends_on),
        }
        for c, counts in campaigns
    ]
    return page(request, "surveys.html", questionnaires=questionnaires, campaigns=shown, manages=_manages(account))


# -- the designer -----------------------------------------------------------------------------


def _designer(
    request: Request,
    draft: dict[str, Any],
    *,
    answered: int,
    version: int | None,
    begun: bool = False,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    versions: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "survey_designer.html",
        status_code=status_code,
        draft=draft,
        answered=answered,
        begun=begun,
        version=version,
        error=error,
        notice=notice,
        options_text=options_text,
        was_of=was_of,
        kinds=("scale", "single", "multiple", "text", "officer"),
        versions=versions or [],
    )


@router.get("/surveys/questionnaires/new", response_class=HTMLResponse)
def new_questionnaire(
    request: Request, template: int = Query(0, ge=0, le=1), _account: Account = MANAGERS
) -> HTMLResponse:
    """The designer on a blank questionnaire, or on the SIPAS template. (Admin, observer.)"""
    draft = template_questionnaire(translator(request_language(request))) if template else empty_draft()
    return _designer(request, draft, answered=0, version=None)


@router.get("/surveys/questionnaires/{questionnaire_id}", response_class=HTMLResponse)
def questionnaire_page(
    request: Request,
    questionnaire_id: str = Path(max_length=64, pattern=_ID),
    version: int | None = Query(None, ge=1, le=1_000_000),
    saved: int = Query(0, ge=0, le=1),
    account: Account = READERS,
) -> HTMLResponse:
    """A questionnaire: the designer for those who manage surveys, read-only
    for leaders and for an earlier version. (Admin, observer, leader.)"""
    desk = survey_desk(request)
    found = desk.questionnaire(questionnaire_id, version)
    if found is None:
        return _missing(request)
    latest = desk.questionnaire(questionnaire_id)
    versions = desk.versions(questionnaire_id)
    if not _manages(account) or (latest is not None and found.version != latest.version):
        return page(
            request,
            "survey_questionnaire.html",
            questionnaire=found,
            versions=versions,
            manages=_manages(account),
            latest=latest,
        )
    notice = request_t(request)("surveys.designer.saved", title=found.title, version=found.version) if saved else None
    draft = {**found.to_dict(), "reserved": desk.used_keys(found.id)}
    return _designer(
        request,
        draft,
        answered=desk.answered(found.id),
        begun=desk.in_use(found.id),
        version=found.version,
        notice=notice,
        versions=versions,
    )


def _missing(request: Request) -> HTMLResponse:
    """The page of a questionnaire or campaign that does not exist (404)."""
    return page(request, "survey_missing.html", status_code=404)


def request_t(request: Request) -> Translate:
    """The translation of the request's language."""
    return translator(request_language(request))


@router.post("/surveys/questionnaires", response_class=HTMLResponse)
async def design_questionnaire(
    request: Request, account: Account = MANAGERS, _csrf: None = Depends(csrf_protect)
) -> Response:
    """One step of the designer (``action``), or saving the draft. (Admin, observer.)"""
    form = await request.form()

    def field(name: str) -> str:
        value = form.get(name)
        return value[:5000] if isinstance(value, str) else ""

    draft = draft_of_form(field)
    action = field("action") or "refresh"
    desk = survey_desk(request)
    answered = await run_in_threadpool(desk.answered, draft["id"]) if draft["id"] else 0
    begun = await run_in_threadpool(desk.in_use, draft["id"]) if draft["id"] else False
    version = None
    if draft["id"]:
        current = await run_in_threadpool(desk.questionnaire, draft["id"])
        if current is None:
            draft["id"] = ""  # not one of ours: saved as a new questionnaire
        else:
            version = current.version
    if action != "save":
        return _designer(request, apply_action(draft, action), answered=answered, begun=begun, version=version)
    try:
        saved = await run_in_threadpool(
            desk.save_questionnaire, plain_of_draft(draft), account, client_address(request)
        )
    except SurveyError as refused:
        return _designer(
            request,
            draft,
            answered=answered,
            begun=begun,
            version=version,
            status_code=422,
            error=error_text(request_t(request), refused),
        )
    return RedirectResponse(f"/surveys/questionnaires/{saved.id}?saved=1", status_code=303)


# -- campaigns -----------------------------------------------------------------------------------


def _devices(request: Request, named: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The paired tablets a campaign may be asked on: id, label and whether
    revoked. A revoked tablet is listed only when the campaign already names
    it (``named``), marked so: its form then keeps it, ticked, unless
    unticked, instead of dropping it unseen at the next save."""
    registry: DeviceRegistry = request.app.state.registry
    kept = set(named)
    return [
        {"id": d["device_id"], "label": d.get("label") or d["device_id"], "revoked": d.get("status") != "active"}
        for d in registry.health(with_findings=False)
        if d.get("status") == "active" or d["device_id"] in kept
    ]


def _campaign_form(
    request: Request, form: dict[str, Any], *, campaign_id: str | None, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    desk = survey_desk(request)
    return page(
        request,
        "survey_campaign_form.html",
        status_code=status_code,
        form=form,
        campaign_id=campaign_id,
        questionnaires=[q for q, _ in desk.questionnaires()],
        devices=_devices(request, form["device_ids"]),
        error=error,
    )


@router.get("/surveys/campaigns/new", response_class=HTMLResponse)
def new_campaign(
    request: Request, questionnaire: str = Query("", max_length=64), _account: Account = MANAGERS
) -> HTMLResponse:
    """The form of a new campaign. (Admin, observer.)"""
    today = survey_desk(request).today()
    form = {
        "title": "",
        "questionnaire_id": questionnaire,
        "starts_on": today.isoformat(),
        "ends_on": today.isoformat(),
        "kiosk": True,
        "all_tablets": True,
        "device_ids": [],
        "public_link": True,
        "paper": True,
        "target": "0",
    }
    return _campaign_form(request, form, campaign_id=None)


async def _posted_campaign(request: Request) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """The campaign form as posted (to show again), the values to store,
    or the catalogue key of what is wrong."""
    form = await request.form()

    def field(name: str) -> str:
        value = form.get(name)
        return value.strip()[:300] if isinstance(value, str) else ""

    typed = {
        "title": field("title"),
        "questionnaire_id": field("questionnaire_id"),
        "starts_on": field("starts_on"),
        "ends_on": field("ends_on"),
        "kiosk": bool(field("kiosk")),
        "all_tablets": field("tablets") != "some",
        "device_ids": [v[:64] for v in form.getlist("device_ids") if isinstance(v, str)][:200],
        "public_link": bool(field("public_link")),
        "paper": bool(field("paper")),
        "target": field("target"),
    }
    try:
        starts_on, ends_on = date.fromisoformat(typed["starts_on"]), date.fromisoformat(typed["ends_on"])
    except ValueError:
        return typed, None, "not_a_date"
    if not typed["target"].isdigit() or int(typed["target"]) > 1_000_000:
        return typed, None, "not_a_count"
    if not (typed["kiosk"] or typed["public_link"] or typed["paper"]):
        return typed, None, "no_place"
    if typed["kiosk"] and not typed["all_tablets"] and not typed["device_ids"]:
        return typed, None, "no_tablet"
    values = dict(
        title=typed["title"],
        questionnaire_id=typed["questionnaire_id"],
        starts_on=starts_on,
        ends_on=ends_on,
        kiosk=typed["kiosk"],
        device_ids=None if typed["all_tablets"] else typed["device_ids"],
        public_link=typed["public_link"],
        paper=typed["paper"],
        target=int(typed["target"]),
    )
    return typed, values, None


@router.post("/surveys/campaigns", response_class=HTMLResponse)
async def create_campaign(
    request: Request, account: Account = MANAGERS, _csrf: None = Depends(csrf_protect)
) -> Response:
    """Create a campaign. (Admin, observer.)"""
    typed, values, problem = await _posted_campaign(request)
    if values is not None:
        try:
            campaign_id = await run_in_threadpool(
                lambda: survey_desk(request).create_campaign(account, client_address(request), **values)
            )
        except SurveyError as refused:
            problem = refused.code
        else:
            return RedirectResponse(f"/surveys/campaigns/{campaign_id}?notice=created", status_code=303)
    return _campaign_form(
        request, typed, campaign_id=None, status_code=422, error=_campaign_error(request, problem or "other")
    )


def _campaign_error(request: Request, code: str) -> str:
    t = request_t(request)
    key = f"surveys.campaign.error.{code}"
    text = t(key)
    return t("surveys.error.other") if text == key else text


def _campaign_view(
    request: Request,
    campaign_id: str,
    *,
    account: Account,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
    base: str,
) -> HTMLResponse:
    desk = survey_desk(request)
    found = desk.campaign(campaign_id)
    if found is None:
        return _missing(request)
    counts = desk.counts(campaign_id)
    contract = found.contract
    if form is None:
        form = {
            "title": contract.title,
            "questionnaire_id": found.questionnaire.id,
            "starts_on": contract.starts_on.isoformat(),
            "ends_on": contract.ends_on.isoformat(),
            "kiosk": contract.kiosk,
            "all_tablets": found.device_ids is None,
            "device_ids": list(found.device_ids or ()),
            "public_link": found.public_link,
            "paper": found.paper,
            "target": str(contract.target),
        }
    devices = _devices(request, form["device_ids"]) if _manages(account) else []
    labels = {d["id"]: d["label"] for d in (devices or _devices(request, form["device_ids"]))}
    return page(
        request,
        "survey_campaign.html",
        status_code=status_code,
        campaign=found,
        counts=counts,
        total=sum(counts.values()),
        status=_status(desk, contract.starts_on, contract.ends_on),
        link=public_link(base, found.public_token),
        manages=_manages(account),
        notice=notice,
        form=form,
        error=error,
        devices=devices,
        labels=labels,
        campaign_id=campaign_id,
        questionnaires=[q for q, _ in desk.questionnaires()] if _manages(account) else [],
    )


@router.get("/surveys/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    notice: str | None = Query(None, max_length=20),
    account: Account = READERS,
    base: str = Depends(base_url),
) -> HTMLResponse:
    """A campaign: its settings, counts by channel, public link and QR code;
    the form to change it for those who manage surveys. (Admin, observer, leader.)"""
    shown = notice if notice in ("created", "updated") else None
    return _campaign_view(request, campaign_id, account=account, notice=shown, base=base)


@router.post("/surveys/campaigns/{campaign_id}", response_class=HTMLResponse)
async def update_campaign(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    account: Account = MANAGERS,
    _csrf: None = Depends(csrf_protect),
    base: str = Depends(base_url),
) -> Response:
    """Change a campaign. (Admin, observer.)"""
    typed, values, problem = await _posted_campaign(request)
    if values is not None:
        try:
            found = await run_in_threadpool(
                lambda: survey_desk(request).update_campaign(campaign_id, account, client_address(request), **values)
            )
        except SurveyError as refused:
            problem = refused.code
        else:
            if not found:
                return _missing(request)
            return RedirectResponse(f"/surveys/campaigns/{campaign_id}?notice=updated", status_code=303)
    return _campaign_view(
        request,
        campaign_id,
        account=account,
        form=typed,
        status_code=422,
        base=base,
        error=_campaign_error(request, problem or "other"),
    )


@router.get("/surveys/campaigns/{campaign_id}/qr.svg")
def campaign_qr(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    _account: Account = READERS,
    base: str = Depends(base_url),
) -> Response:
    """The QR code of a campaign's public link. (Admin, observer, leader.)"""
    found = survey_desk(request).campaign(campaign_id)
    if found is None:
        return Response(status_code=404)
    return Response(
        qr_svg(public_link(base, found.public_token)),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/surveys/campaigns/{campaign_id}/poster", response_class=HTMLResponse)
def campaign_poster(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    _account: Account = READERS,
    base: str = Depends(base_url),
) -> HTMLResponse:
    """The A4 invitation to print: the QR code and a few words. (Admin, observer, leader.)"""
    found = survey_desk(request).campaign(campaign_id)
    if found is None:
        return _missing(request)
    link = public_link(base, found.public_token)
    return page(request, "survey_poster.html", campaign=found, link=link, qr=qr_svg(link))


# -- paper forms ---------------------------------------------------------------------------------------


def _paper_page(
    request: Request,
    desk: SurveyDesk,
    campaign_id: str,
    account: Account,
    *,
    notice: str | None = None,
    typed: dict[str, Any] | None = None,
    error: str | None = None,
    invalid: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = desk.campaign(campaign_id)
    if found is None:
        return _missing(request)
    counts_mine = desk.counts(campaign_id, entered_by=account.id).get("paper", 0)
    total = desk.counts(campaign_id).get("paper", 0)
    return page(
        request,
        "survey_paper.html",
        status_code=status_code if found.paper else 409,
        campaign=found,
        questionnaire=found.questionnaire,
        officers=desk.officers(),
        mine=counts_mine,
        total=total,
        notice=notice,
        typed=typed or {},
        error=error,
        invalid=invalid or {},
        max_text=MAX_TEXT_ANSWER_CHARS,
        missing=set(),
        portrait=_no_portrait,
    )


def _no_portrait(_officer: Any) -> None:
    """The paper page names officers without their portraits (an observer does not see the roster's)."""
    return None


@router.get("/surveys/campaigns/{campaign_id}/paper", response_class=HTMLResponse)
def paper_page(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    saved: int = Query(0, ge=0, le=10_000_000),
    incomplete: int = Query(0, ge=0, le=1),
    account: Account = MANAGERS,
) -> HTMLResponse:
    """The data-entry page of paper forms. (Admin, observer.)"""
    notice = None
    if saved:
        key = "surveys.paper.saved_incomplete" if incomplete else "surveys.paper.saved"
        notice = request_t(request)(key, number=saved)
    return _paper_page(request, survey_desk(request), campaign_id, account, notice=notice)


@router.post("/surveys/campaigns/{campaign_id}/paper", response_class=HTMLResponse)
async def enter_paper(
    request: Request,
    campaign_id: str = Path(max_length=64, pattern=_ID),
    account: Account = MANAGERS,
    _csrf: None = Depends(csrf_protect),
) -> Response:
    """Store one paper form's answers. (Admin, observer.)"""
    desk = survey_desk(request)
    found = await run_in_threadpool(desk.campaign, campaign_id)
    if found is None or not found.paper:
        return await run_in_threadpool(lambda: _paper_page(request, desk, campaign_id, account))
    form = await request.form()

    def values(name: str) -> list[str]:
        return [v[: MAX_TEXT_ANSWER_CHARS * 4] for v in form.getlist(name) if isinstance(v, str)]

    answers = answers_of_form(found.questionnaire, values)
    try:
        _, complete = await run_in_threadpool(desk.enter_paper, campaign_id, answers, account, client_address(request))
    except SurveyError as refused:
        message, where = error_text(request_t(request), refused), refused.path
        return await run_in_threadpool(
            lambda: _paper_page(
                request,
                desk,
                campaign_id,
                account,
                status_code=422,
                typed=typed_of_form(found.questionnaire, values),
                error=message,
                invalid={where: message},
            )
        )
    mine = (await run_in_threadpool(desk.counts, campaign_id, entered_by=account.id)).get("paper", 0)
    return RedirectResponse(
        f"/surveys/campaigns/{campaign_id}/paper?saved={mine}&incomplete={int(not complete)}", status_code=303
    )
