"""The shapes of the API's requests and answers, as validated models.

They give the OpenAPI description its schemas and refuse wrong types and
unknown fields (strict mode, ``extra="forbid"``). Records inside a batch are
left as objects here: each is checked on its own by ``sync.record``, so one
bad record is refused alone and the rest of the batch is kept.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.protocol import MAX_BATCH_RECORDS, MAX_INT, PROTOCOL_VERSION

__all__ = [
    "ErrorOut",
    "DeviceCodeIn",
    "DeviceCodeOut",
    "TokenIn",
    "TokenOut",
    "BatchIn",
    "BatchOut",
    "DeviceHealthOut",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_DEVICE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorOut(BaseModel):
    """Every error answer: a machine code and a sentence for a person."""

    error: str = Field(description="machine code, e.g. bad_signature, malformed, authorization_pending")
    detail: str = Field(description="what went wrong, for a person")


class DeviceCodeIn(_Strict):
    """A tablet asking to pair (RFC 8628 §3.1)."""

    device_id: str = Field(pattern=_ID, description="the tablet's own id (from its database)")
    label: str | None = Field(None, max_length=200, description="e.g. the counter's name, shown to the technician")
    app_version: str | None = Field(None, max_length=50)


class DeviceCodeOut(BaseModel):
    """RFC 8628 §3.2 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class TokenIn(_Strict):
    """A tablet polling for its secret (RFC 8628 §3.4)."""

    grant_type: str = Field(max_length=100, description="urn:ietf:params:oauth:grant-type:device_code")
    device_code: str = Field(max_length=200)


class TokenOut(BaseModel):
    """The device's own secret, handed over once the code is approved."""

    device_id: str
    device_secret: str
    server_time: str


class BatchIn(_Strict):
    """A batch of records, signed with the device secret (header X-Hailong-Signature)."""

    protocol: Literal[1] = Field(description=f"protocol version, {PROTOCOL_VERSION}")
    device_id: str = Field(pattern=_ID)
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9_-]{8,100}$",
                                 description="the same for every retry of the same records")
    sent_at: str = Field(pattern=_DEVICE_TIME, description="the device's wall-clock time when sending")
    sent_monotonic_ns: int = Field(ge=0, le=MAX_INT, description="the device's monotonic clock when sending")
    boot_id: str = Field(min_length=1, max_length=100)
    app_version: str = Field(max_length=50)
    pending: int = Field(ge=0, le=MAX_INT, description="records still waiting on the device once this batch is in")
    records: list[Any] = Field(
        max_length=MAX_BATCH_RECORDS,
        description="records in the wire form of sync.record (rating or details), in sequence order",
    )


class RecordResultOut(BaseModel):
    """What happened to one record."""

    index: int = Field(description="position of the record in the batch")
    uuid: str | None
    seq: int | None
    status: Literal["stored", "duplicate", "conflict", "rejected"]
    http_status: int = Field(description="201 stored, 200 duplicate, 409 conflict, 422 rejected")
    error: str | None
    detail: str
    flags: list[str]


class BatchOut(BaseModel):
    """The answer to a batch: one result per record. Every status is final."""

    device_id: str
    idempotency_key: str
    received_at: str
    clock_offset_s: float
    replay: bool
    counts: dict[str, int]
    results: list[RecordResultOut]


class FindingOut(BaseModel):
    seq: int | None
    uuid: str | None
    problem: str
    detail: str
    found_at: str
    resolved_at: str | None = None


class DeviceHealthOut(BaseModel):
    """A tablet's health as the server sees it."""

    device_id: str
    label: str | None
    status: str
    revoked_reason: str | None
    app_version: str | None
    paired_at: str | None
    last_seen_at: str | None
    pending_count: int | None
    records_count: int
    last_seq: int
    clock_offset_s: float | None
    clock_checked_at: str | None
    clock_off: bool
    chain_status: Literal["intact", "flagged"]
    findings_count: int
    findings: list[FindingOut]
