"""Pairing a tablet in the pattern of RFC 8628 (device authorization): a
device code to poll with, a short user code a technician approves, and the
approval page the tablet's QR code opens."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from server.answers import ERROR_RESPONSES, ApiError, respond
from server.deps import base_url, get_registry
from server.registry import DeviceRegistry, PairingError
from server.schemas import DeviceCodeIn, DeviceCodeOut, TokenIn, TokenOut
from sync.protocol import API_PREFIX, DEVICE_CODE_GRANT, ErrorCode

__all__ = ["router"]

router = APIRouter()


@router.post(f"{API_PREFIX}/pair/device-code", response_model=DeviceCodeOut, responses=ERROR_RESPONSES,
             tags=["pairing"])
def device_code(body: DeviceCodeIn, registry: DeviceRegistry = Depends(get_registry),
                server_url: str = Depends(base_url)) -> DeviceCodeOut:
    """Start pairing: a device code to poll with and a short user code to show.
    (Anyone: a tablet that is not paired yet.)"""
    code = registry.request_code(body.device_id, body.label, body.app_version)
    uri = f"{server_url}/pair"
    return DeviceCodeOut(
        device_code=code.device_code, user_code=code.user_code, verification_uri=uri,
        verification_uri_complete=f"{uri}?code={code.user_code}",
        expires_in=code.expires_in, interval=code.interval,
    )


@router.post(f"{API_PREFIX}/pair/token", response_model=TokenOut, responses=ERROR_RESPONSES, tags=["pairing"])
def token(body: TokenIn, registry: DeviceRegistry = Depends(get_registry)) -> Response:
    """Poll for the device secret. 400 with ``authorization_pending``,
    ``slow_down``, ``expired_token`` or ``access_denied`` until approved.
    (Anyone holding a device code.)"""
    if body.grant_type != DEVICE_CODE_GRANT:
        raise ApiError(400, ErrorCode.UNSUPPORTED_GRANT_TYPE, f"grant_type must be {DEVICE_CODE_GRANT}")
    try:
        granted = registry.poll(body.device_code)
    except PairingError as exc:
        raise ApiError(400, exc.code, exc.detail, headers={"Cache-Control": "no-store"}) from None
    return respond(200, granted, headers={"Cache-Control": "no-store"})


@router.get("/pair", include_in_schema=False)
def approval_page(code: str = "") -> RedirectResponse:
    """The approval address the tablet's QR code opens. (Anyone: it only
    leads to the dashboard's devices page, where an admin who is logged in
    sees the request with its code and approves or denies it.)"""
    return RedirectResponse("/devices", status_code=303)
