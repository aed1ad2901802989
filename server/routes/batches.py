"""Uploading a batch of records from a paired tablet."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError, OperationalError

from server.answers import (
    ERROR_RESPONSES,
    SIGNED_BODY_HEADERS,
    UNSTORABLE,
    ApiError,
    respond_bytes,
    validation_detail,
)
from server.batches import Batch, BatchAnswer, BatchIngest, IdempotencyKeyReused
from server.clock import parse_device_time
from server.deps import (
    AuthenticatedDevice,
    arrival_time,
    get_ingest,
    request_body,
    signed_device,
)
from server.disk_alarm import DISK_FULL_RETRY_AFTER_S, DiskAlarm, is_disk_full
from server.schemas import BatchIn, BatchOut, RatingsBatchIn
from sync import wire
from sync.protocol import API_PREFIX, REPLAY_HEADER, ErrorCode

__all__ = ["router"]

log = logging.getLogger("hailong.server")

router = APIRouter(prefix=API_PREFIX, tags=["sync"])


@router.post(
    "/batches",
    response_model=BatchOut,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "parameters": SIGNED_BODY_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": BatchIn.model_json_schema()}}},
    },
)
async def post_batch(request: Request, received_at: datetime = Depends(arrival_time),
                     device: AuthenticatedDevice = Depends(signed_device), body: bytes = Depends(request_body),
                     ingest: BatchIngest = Depends(get_ingest)) -> Response:
    """Upload a batch of records. Each record gets its own result; every
    result is final. A bad signature is 401 and nothing is stored.
    (Tablets, signed.)"""
    # Parsing and storing run in one worker-thread hop: each hop costs a
    # round trip through the event loop, per batch.
    alarm: DiskAlarm = request.app.state.disk_alarm
    try:
        answer = await run_in_threadpool(receive_batch, ingest, device, body, received_at)
    except OperationalError as exc:
        if not is_disk_full(exc):
            raise
        # The transaction was rolled back: nothing of the batch is kept, and
        # the tablet, told so in an answer it can trust, keeps every record
        # and sends the batch again later.
        log.error("disk full: batch of %s refused: %s", device.device_id, exc.orig)
        alarm.refused()
        raise ApiError(507, ErrorCode.DISK_FULL, "the server's disk is full; nothing was stored: send it again later",
                       secret=device.secret, headers={"Retry-After": str(DISK_FULL_RETRY_AFTER_S)}) from None
    alarm.stored()
    headers = {REPLAY_HEADER: "true"} if answer.replay else {}
    # The answer was encoded once, for the idempotency cache; those very bytes are sent.
    return respond_bytes(200, answer.body, secret=device.secret, headers=headers)


def _read_envelope(body: bytes, secret: str) -> tuple[Any, bool]:
    """The batch's envelope, and whether its records were read as ratings
    the compiled check vouches for (:data:`server.schemas.RatingsBatchIn`);
    a refusal as :class:`ApiError`, signed with the device's ``secret``.

    The common batch, ratings only, is read and checked in one pass; any
    other is read again as any batch, which words a refusal."""
    try:
        return RatingsBatchIn.model_validate_json(body), True
    except ValidationError:
        pass
    try:
        return BatchIn.model_validate_json(body), False
    except ValidationError as exc:
        too_long = any(e.get("type") == "too_long" and tuple(e.get("loc", ()))[:1] == ("records",)
                       for e in exc.errors())
        if too_long:
            raise ApiError(413, ErrorCode.TOO_LARGE, "too many records in one batch; send smaller batches",
                           secret=secret) from None
        raise ApiError(422, ErrorCode.MALFORMED, validation_detail(exc), secret=secret) from None


def receive_batch(ingest: BatchIngest, device: AuthenticatedDevice, body: bytes, received_at: datetime) -> BatchAnswer:
    """Check and store one uploaded batch of an authenticated device; the answer.

    Every refusal is signed with the device's secret, like every other
    answer to it."""
    secret = device.secret
    envelope, ratings_checked = _read_envelope(body, secret)
    if envelope.device_id != device.device_id:
        raise ApiError(422, ErrorCode.WRONG_DEVICE, "device_id differs from the signing device", secret=secret)
    try:
        # Also refuses a time whose UTC moment is off the calendar: the
        # clock arithmetic after this must not fail (a 500 would make
        # the tablet resend the same batch forever).
        sent_at = parse_device_time(envelope.sent_at)
    except ValueError as exc:
        raise ApiError(422, ErrorCode.MALFORMED, f"sent_at: {exc}", secret=secret) from None
    batch = Batch(
        device_id=envelope.device_id, idempotency_key=envelope.idempotency_key, sent_at=sent_at,
        sent_monotonic_ns=envelope.sent_monotonic_ns, boot_id=envelope.boot_id,
        app_version=envelope.app_version, pending=envelope.pending, records=envelope.records,
        callback_keys=tuple(wire.CallbackKey(k.record_uuid, k.sealed_key) for k in envelope.callback_keys or ()),
        ratings_checked=ratings_checked,
    )
    try:
        return ingest.receive(batch, received_at)
    except IdempotencyKeyReused:
        raise ApiError(422, ErrorCode.IDEMPOTENCY_KEY_REUSED,
                       "this idempotency key was used for other records", secret=secret) from None
    except DataError as exc:
        # Signed like every other answer to an authenticated device.
        log.warning("batch refused by the database: %s", exc.orig)
        raise ApiError(422, ErrorCode.MALFORMED, UNSTORABLE, secret=secret) from None
