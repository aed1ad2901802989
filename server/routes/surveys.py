"""The survey campaigns a paired tablet asks (:mod:`sync.survey`): its
campaigns that have not ended, each with its questionnaire."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from server.answers import ERROR_RESPONSES, SIGNED_GET_HEADERS, etag_matches
from server.deps import AuthenticatedDevice, signed_get_device
from server.surveys import SurveyDesk
from sync.protocol import API_PREFIX, SIGNATURE_HEADER, sign

__all__ = ["router", "survey_desk"]

router = APIRouter(prefix=API_PREFIX, tags=["surveys"])

_RESPONSES = {**ERROR_RESPONSES, 304: {"description": "not modified"}}


def survey_desk(request: Request) -> SurveyDesk:
    """The application's survey desk (made on first use, on the server's clock)."""
    desk = getattr(request.app.state, "survey_desk", None)
    if desk is None:
        desk = request.app.state.survey_desk = SurveyDesk(
            request.app.state.registry.engine, clock=request.app.state.clock
        )
    return desk


def _campaigns_body(desk: SurveyDesk, device_id: str) -> bytes:
    campaigns = desk.campaigns_for_device(device_id)
    document = {"campaigns": [campaign.to_dict() for campaign in campaigns]}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@router.get("/surveys", responses=_RESPONSES, openapi_extra={"parameters": SIGNED_GET_HEADERS})
async def get_surveys(request: Request, device: AuthenticatedDevice = Depends(signed_get_device)) -> Response:
    """The survey campaigns this tablet asks that have not ended by the
    commune's today (one not started yet included), each with the version of
    its questionnaire it asks now: ``{"campaigns": [Campaign, ...]}``. Send
    ``If-None-Match`` with the last ETag to get ``304`` when nothing changed.
    (Tablets, signed.)"""
    content = await run_in_threadpool(_campaigns_body, survey_desk(request), device.device_id)
    etag = f'"{hashlib.sha256(content).hexdigest()[:40]}"'
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        content,
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": "no-cache", SIGNATURE_HEADER: sign(device.secret, content)},
    )
