"""The tablets: each one's health, the pairing requests waiting (approve or
deny, admin), revocation with a reason (admin). Everything goes through
:class:`server.registry.DeviceRegistry`, as the command line does.

What an anonymous pairing request wrote (label, app version, device id) is
shown through :func:`server.registry.visible_text`: Jinja escapes HTML, but
control characters and bidirectional overrides would pass through it and
could make a label read as something else. A request naming an active
device is marked, on the request and on that device's row, and approving it
needs the confirmation box ticked.

Each tablet's open findings (what the chain check found wrong) are listed
under its row, as the command line's ``devices`` does: the first
:data:`FINDINGS_SHOWN`, and how many more there are, so a tablet with
thousands of findings does not make an endless page; its own findings page
(``/devices/{id}/findings``) lists them all, a page at a time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import Account, AccountBook, Role
from server.deps import get_registry
from server.i18n import DEFAULT_LANGUAGE, catalogue
from server.registry import DeviceRegistry, PairingError, visible_text
from server.web.auth import client_address, csrf_protect, get_accounts, require
from server.web.home_visits import home_visits
from server.web.render import page, register_nav

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
register_nav("/devices", "nav.devices", (Role.ADMIN, Role.LEADER), order=70)

_NOTICES = {"approved", "denied", "revoked"}
# Fields that come from a tablet's anonymous pairing request.
_ASKED_FIELDS = ("device_id", "label", "app_version")
FINDINGS_SHOWN = 5
"""How many of a tablet's open findings its row lists; the others are counted
and listed on the tablet's own findings page."""
FINDINGS_PER_PAGE = 100
"""Findings on a page of a tablet's findings page."""
_NO_FINDINGS: dict[str, Any] = {"first": [], "count": 0, "more": 0}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A pairing request or device with what its asker wrote made visible;
    ``device_id`` is kept as stored for the forms' addresses."""
    return {**row, **{f"{k}_shown": visible_text(row.get(k)) for k in _ASKED_FIELDS}}


def _in_words(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings as the pages list them: each problem's words (its locale key,
    or None for a problem the locale has no words for: the code is shown) and
    the detail made visible."""
    shown = []
    for finding in findings:
        key = f"devices.problem.{finding['problem']}"
        shown.append({**finding, "problem_key": key if key in catalogue(DEFAULT_LANGUAGE) else None,
                      # Written from what a tablet sent (a device id, an error): shown escaped.
                      "detail_shown": visible_text(finding["detail"])})
    return shown


def _findings_shown(entry: dict[str, Any] | None) -> dict[str, Any]:
    """A tablet's open findings as its row lists them, and how many are not listed."""
    if entry is None:
        return _NO_FINDINGS
    first = _in_words(entry["first"])
    return {"first": first, "count": entry["count"], "more": entry["count"] - len(first)}


def _devices_page(request: Request, registry: DeviceRegistry, account: Account, *, status_code: int = 200,
                  notice: str | None = None, error: str | None = None) -> HTMLResponse:
    pairings = [_shown(p) for p in registry.list_pairings()]
    contested = {p["device_id"] for p in pairings if p["already_active"]}
    findings = registry.open_findings(FINDINGS_SHOWN)
    devices = [{**_shown(d), "contested": d["device_id"] in contested,
                "open_findings": _findings_shown(findings.get(d["device_id"]))}
               for d in registry.health(with_findings=False)]
    if account.role is not Role.ADMIN:
        pairings = []
    return page(request, "devices.html", status_code=status_code, devices=devices, pairings=pairings,
                notice=notice if notice in _NOTICES else None, error=error, disk=request.app.state.disk_alarm.state(),
                home_source=home_visits(request).source_health())


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, notice: str | None = Query(None, max_length=20),
                 account: Account = Depends(require(Role.ADMIN, Role.LEADER)),
                 registry: DeviceRegistry = Depends(get_registry)) -> HTMLResponse:
    """Every tablet's health; for the admin, the pairings waiting. (Admin, leader.)"""
    return _devices_page(request, registry, account, notice=notice)


@router.get("/devices/{device_id}/findings", response_class=HTMLResponse)
def device_findings_page(request: Request, device_id: str = Path(max_length=64),
                         page_number: int = Query(1, alias="page", ge=1, le=1_000_000),
                         _account: Account = Depends(require(Role.ADMIN, Role.LEADER)),
                         registry: DeviceRegistry = Depends(get_registry)) -> HTMLResponse:
    """Every open finding of one tablet, a page at a time (its row on the
    devices page lists the first few). (Admin, leader.)"""
    found = registry.health(device_id, with_findings=False)
    if not found:
        return page(request, "device_findings.html", status_code=404, device=None)
    findings, total = registry.device_open_findings(device_id, page=page_number, per_page=FINDINGS_PER_PAGE)
    return page(request, "device_findings.html", device=_shown(found[0]), findings=_in_words(findings),
                total=total, page_number=page_number, pages=max(1, -(-total // FINDINGS_PER_PAGE)))


@router.post("/devices/pairings/{user_code}/{decision}")
async def decide_pairing(request: Request, user_code: str = Path(max_length=20),
                         decision: str = Path(pattern="^(approve|deny)$"),
                         replace_active: str = Form("", max_length=10),
                         account: Account = Depends(require(Role.ADMIN)), _csrf: None = Depends(csrf_protect),
                         registry: DeviceRegistry = Depends(get_registry),
                         accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Approve or deny a tablet's pairing code; a code naming an active device
    is approved only with the ``replace_active`` box ticked. (Admin.)"""
    approve = decision == "approve"
    replacing = approve and replace_active == "yes"
    try:
        pairing = await run_in_threadpool(lambda: registry.decide(user_code, approve, replace_active=replacing))
    except PairingError as exc:
        return await run_in_threadpool(_devices_page, request, registry, account, status_code=409,
                                       error=f"devices.error.{exc.code}")
    await run_in_threadpool(accounts.audit, account.username, f"device.{'approve' if approve else 'deny'}",
                            pairing["device_id"],
                            f"code={pairing['user_code']} label={visible_text(pairing['label'])}"
                            + (" replace_active=yes" if replacing else ""),
                            client_address(request))
    return RedirectResponse(f"/devices?notice={'approved' if approve else 'denied'}", status_code=303)


@router.post("/devices/{device_id}/revoke")
async def revoke_device(request: Request, device_id: str = Path(max_length=64),
                        reason: str = Form("", max_length=500),
                        account: Account = Depends(require(Role.ADMIN)), _csrf: None = Depends(csrf_protect),
                        registry: DeviceRegistry = Depends(get_registry),
                        accounts: AccountBook = Depends(get_accounts)) -> Response:
    """Refuse a tablet's uploads from now on, with a reason. (Admin.)"""
    reason = reason.strip()
    if not reason:
        return await run_in_threadpool(_devices_page, request, registry, account, status_code=400,
                                       error="devices.reason_needed")
    try:
        await run_in_threadpool(registry.revoke, device_id, reason)
    except PairingError as exc:
        return await run_in_threadpool(_devices_page, request, registry, account, status_code=404,
                                       error=f"devices.error.{exc.code}")
    await run_in_threadpool(accounts.audit, account.username, "device.revoke", device_id, reason,
                            client_address(request))
    return RedirectResponse("/devices?notice=revoked", status_code=303)
