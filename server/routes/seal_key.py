"""A tablet handing the server its first sealing key, right after pairing
(forward integrity of its journal: :mod:`server.seals`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from server.answers import ERROR_RESPONSES, SIGNED_BODY_HEADERS, ApiError, respond, validation_detail
from server.deps import AuthenticatedDevice, get_registry, request_body, signed_device
from server.registry import DeviceRegistry
from server.schemas import ErrorOut, SealKeyIn, SealKeyOut
from server.seals import SealKeyRefused
from sync import wire
from sync.protocol import API_PREFIX, ErrorCode

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["sync"])

_RESPONSES = {**ERROR_RESPONSES,
              409: {"model": ErrorOut, "description": "the device has another sealing key, or records past first_seq"}}


@router.post(
    "/seal-key",
    response_model=SealKeyOut,
    responses=_RESPONSES,
    openapi_extra={
        "parameters": SIGNED_BODY_HEADERS,
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": SealKeyIn.model_json_schema()}}},
    },
)
async def post_seal_key(device: AuthenticatedDevice = Depends(signed_device), body: bytes = Depends(request_body),
                        registry: DeviceRegistry = Depends(get_registry)) -> Response:
    """Register the device's first sealing key and the sequence number it
    seals from. Taken once per device; the same request again is answered
    ``already_registered``, another key is 409 ``seal_key_refused``.
    (Tablets, signed.)"""
    return await run_in_threadpool(_register, registry, device, body)


def _register(registry: DeviceRegistry, device: AuthenticatedDevice, body: bytes) -> Response:
    secret = device.secret
    try:
        request = SealKeyIn.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, ErrorCode.MALFORMED, validation_detail(exc), secret=secret) from None
    if request.device_id != device.device_id:
        raise ApiError(422, ErrorCode.WRONG_DEVICE, "device_id differs from the signing device", secret=secret)
    try:
        new = registry.register_seal_key(device.device_id, request.first_seq, bytes.fromhex(request.key))
    except SealKeyRefused as exc:
        raise ApiError(409, exc.code, exc.detail, secret=secret) from None
    answer = wire.SealKeyAnswer(device_id=device.device_id, first_seq=request.first_seq,
                                status="registered" if new else "already_registered")
    return respond(200, wire.to_wire(answer), secret=secret)
