"""The roster a paired tablet downloads: officers, counters, reasons and
settings, and the officers' portraits, each with an ETag."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from server.answers import ERROR_RESPONSES, SIGNED_GET_HEADERS, ApiError, etag_matches
from server.callback_numbers import public_key_text
from server.deps import AuthenticatedDevice, LaunchOptions, get_launch_options, get_rosters, signed_get_device
from server.roster import RosterStore, served_roster
from server.settings import load_settings
from sync.protocol import API_PREFIX, SIGNATURE_HEADER, ErrorCode, sign

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["roster"])

_RESPONSES = {**ERROR_RESPONSES, 304: {"description": "not modified"}}


@router.get("/roster", responses=_RESPONSES, openapi_extra={"parameters": SIGNED_GET_HEADERS})
def get_roster(request: Request, device: AuthenticatedDevice = Depends(signed_get_device),
               rosters: RosterStore = Depends(get_rosters),
               launch: LaunchOptions = Depends(get_launch_options)) -> Response:
    """The officers, counters, reasons and settings, with every PIN verifier
    keyed to the asking device (so the document and its ETag are that
    device's own). Send ``If-None-Match`` with the last ETag to get ``304``
    when nothing changed. (Tablets, signed.)"""
    current = rosters.current()
    if current is None:
        raise ApiError(404, ErrorCode.NO_ROSTER, "no roster has been imported on the server yet",
                       secret=device.secret)
    # The ETag covers the device's own keyed verifiers, the public address
    # and the key call-back numbers are sealed to.
    body, etag = served_roster(current[0], device.secret, launch.public_url, public_key_text(rosters.engine),
                               load_settings(rosters.engine).callback_retention_months)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    content = body.encode("utf-8")
    return Response(content, media_type="application/json",
                    headers={"ETag": etag, "Cache-Control": "no-cache", SIGNATURE_HEADER: sign(device.secret, content)})


@router.get("/roster/portraits/{officer_id}", responses=_RESPONSES, openapi_extra={"parameters": SIGNED_GET_HEADERS})
def get_portrait(officer_id: str, request: Request, device: AuthenticatedDevice = Depends(signed_get_device),
                 rosters: RosterStore = Depends(get_rosters)) -> Response:
    """An officer's portrait, with its ETag. (Tablets, signed.)"""
    portrait = rosters.portrait(officer_id)
    if portrait is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no portrait for this officer", secret=device.secret)
    content, content_type, etag = portrait
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(content, media_type=content_type,
                    headers={"ETag": etag, SIGNATURE_HEADER: sign(device.secret, content)})
