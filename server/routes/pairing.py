"""Pairing a tablet in the pattern of RFC 8628 (device authorization): a
device code to poll with, a short user code a technician approves, and the
approval page the tablet's QR code opens.

Both routes are open to anyone, so they are rationed per client address and
for the whole server (:mod:`server.pairing_gate`): past the limit, ``429
rate_limited`` with ``Retry-After``."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from server.answers import ERROR_RESPONSES, ApiError, respond
from server.deps import base_url, client_address, get_registry
from server.pairing_gate import RATE_LIMITED, PairingGate
from server.registry import DeviceRegistry, PairingError
from server.schemas import DeviceCodeIn, DeviceCodeOut, ErrorOut, TokenIn, TokenOut
from sync.protocol import API_PREFIX, DEVICE_CODE_GRANT, ErrorCode

__all__ = ["router"]

router = APIRouter()

_RESPONSES = {**ERROR_RESPONSES, 429: {"model": ErrorOut, "description": "too many pairing requests; see Retry-After"}}
_GATE_LOCK = threading.Lock()


def pairing_gate(request: Request) -> PairingGate:
    """The server's pairing rate limits: ``app.state.pairing_gate`` (made on
    first use with the limits of :mod:`server.pairing_gate`; a test or an
    embedding may put its own there first)."""
    state = request.app.state
    with _GATE_LOCK:
        if getattr(state, "pairing_gate", None) is None:
            state.pairing_gate = PairingGate()
        return state.pairing_gate


def _admit(request: Request, *, poll: bool) -> None:
    wait = pairing_gate(request).admit(client_address(request), poll=poll)
    if wait:
        raise ApiError(429, RATE_LIMITED, f"too many pairing requests; try again in {wait} s",
                       headers={"Retry-After": str(wait), "Cache-Control": "no-store"})


@router.post(f"{API_PREFIX}/pair/device-code", response_model=DeviceCodeOut, responses=_RESPONSES,
             tags=["pairing"])
def device_code(body: DeviceCodeIn, request: Request, registry: DeviceRegistry = Depends(get_registry),
                server_url: str = Depends(base_url)) -> DeviceCodeOut:
    """Start pairing: a device code to poll with and a short user code to show.
    Rate-limited per address and for the server (429 with ``Retry-After``).
    (Anyone: a tablet that is not paired yet.)"""
    _admit(request, poll=False)
    try:
        code = registry.request_code(body.device_id, body.label, body.app_version)
    except PairingError as exc:  # a reserved device id (the wire's pattern already keeps it out)
        raise ApiError(422, exc.code, exc.detail) from None
    uri = f"{server_url}/pair"
    return DeviceCodeOut(
        device_code=code.device_code, user_code=code.user_code, verification_uri=uri,
        verification_uri_complete=f"{uri}?code={code.user_code}",
        expires_in=code.expires_in, interval=code.interval,
    )


@router.post(f"{API_PREFIX}/pair/token", response_model=TokenOut, responses=_RESPONSES, tags=["pairing"])
def token(body: TokenIn, request: Request, registry: DeviceRegistry = Depends(get_registry)) -> Response:
    """Poll for the device secret. 400 with ``authorization_pending``,
    ``slow_down``, ``expired_token`` or ``access_denied`` until approved; the
    secret is handed over once, a later poll gets ``invalid_grant``.
    (Anyone holding a device code.)"""
    _admit(request, poll=True)
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
