"""The shapes that cross the wire, each defined once: pairing, batches and
their answers, the roster, device health and errors.

Each shape is a plain dataclass whose fields carry their limits as
``Annotated`` markers (:class:`Size`, :class:`Pattern`, :class:`Range`) and a
description (:class:`About`). Both ends read these same definitions:

* the tablet checks what it receives with :func:`parse` (pure Python, so it
  builds for Android with python-for-android);
* the server derives its validating models (and so its OpenAPI schemas) from
  them, and builds its answers as these dataclasses (:func:`to_wire`).

A change of the protocol is therefore one edit here, and an end that drifts
from it fails its tests. Records inside a batch are left as plain objects:
each is checked on its own by :mod:`sync.record`, so one bad record is refused
alone and the rest of the batch is kept.
"""

from __future__ import annotations

import dataclasses
import re
import types
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from sync.protocol import MAX_BATCH_RECORDS, MAX_INT, PROTOCOL_VERSION

__all__ = [
    "About",
    "Pattern",
    "Range",
    "Size",
    "WireError",
    "parse",
    "to_wire",
    "SHAPES",
    "ErrorAnswer",
    "DeviceCodeRequest",
    "DeviceAuthorization",
    "TokenRequest",
    "DeviceGrant",
    "BatchRequest",
    "CallbackKey",
    "RecordResult",
    "BatchAnswer",
    "Finding",
    "DeviceHealth",
    "SealKeyRequest",
    "SealKeyAnswer",
    "RosterPhoto",
    "RosterOfficer",
    "RosterCounter",
    "RosterCommune",
    "RosterDocument",
    "ROSTER_KEYED_PINS",
]

T = TypeVar("T")


# -- the markers a field's annotation may carry ---------------------------------------


@dataclass(frozen=True)
class Size:
    """Length limits of a string or a list."""

    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Pattern:
    """A regular expression the whole string must match (write it anchored,
    ``^…$``, so that the server's regex engine reads it the same way)."""

    regex: str


@dataclass(frozen=True)
class Range:
    """Bounds of a number, both inclusive."""

    ge: int | float | None = None
    le: int | float | None = None


@dataclass(frozen=True)
class About:
    """What a field means, for a person reading the API description."""

    text: str


# -- the vocabulary of fields -----------------------------------------------------------

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
DEVICE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$"

DeviceId = Annotated[str, Pattern(ID_PATTERN), About("the tablet's own id (from its database)")]
Count = Annotated[int, Range(0, MAX_INT)]
AppVersion = Annotated[str, Size(max=50)]
Status = Literal["stored", "duplicate", "conflict", "rejected"]
# The server's public key for call-back numbers (a NaCl Curve25519 key, 32
# bytes in standard base64), and a record's own key sealed to it (32 bytes in
# a NaCl sealed box: 80 bytes).
CallbackPublicKey = Annotated[
    str | None,
    Pattern(r"^[A-Za-z0-9+/]{43}=$"),
    About("the server's public key that call-back numbers are sealed to (32 bytes, base64); "
          "a tablet offers the call-back only once it holds it"),
]


# -- the shapes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorAnswer:
    """Every error answer: a machine code and a sentence for a person."""

    error: Annotated[str, About("machine code, e.g. bad_signature, malformed, authorization_pending")]
    detail: Annotated[str, About("what went wrong, for a person")]


@dataclass(frozen=True)
class DeviceCodeRequest:
    """A tablet asking to pair (RFC 8628 §3.1)."""

    device_id: DeviceId
    label: Annotated[str | None, Size(max=200), About("e.g. the counter's name, shown to the technician")] = None
    app_version: Annotated[str | None, Size(max=50)] = None


@dataclass(frozen=True)
class DeviceAuthorization:
    """The server's answer to a pairing request (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class TokenRequest:
    """A tablet polling for its secret (RFC 8628 §3.4)."""

    grant_type: Annotated[str, Size(max=100), About("urn:ietf:params:oauth:grant-type:device_code")]
    device_code: Annotated[str, Size(max=200)]


@dataclass(frozen=True)
class DeviceGrant:
    """The device's own secret, handed over once the code is approved."""

    device_id: str
    device_secret: str
    server_time: str
    callback_key: CallbackPublicKey = None


@dataclass(frozen=True)
class BatchRequest:
    """A batch of records, signed with the device secret (header X-Hailong-Signature)."""

    protocol: Annotated[Literal[1], About(f"protocol version, {PROTOCOL_VERSION}")]
    device_id: Annotated[str, Pattern(ID_PATTERN)]
    idempotency_key: Annotated[
        str, Pattern(r"^[A-Za-z0-9_-]{8,100}$"), About("the same for every retry of the same records")
    ]
    sent_at: Annotated[str, Pattern(DEVICE_TIME_PATTERN), About("the device's wall-clock time when sending")]
    sent_monotonic_ns: Annotated[int, Range(0, MAX_INT), About("the device's monotonic clock when sending")]
    boot_id: Annotated[str, Size(1, 100)]
    app_version: AppVersion
    pending: Annotated[int, Range(0, MAX_INT), About("records still waiting on the device once this batch is in")]
    records: Annotated[
        list[Any],
        Size(max=MAX_BATCH_RECORDS),
        About("records in the wire form of sync.record (rating or details), in sequence order"),
    ]
    callback_keys: Annotated[
        list[CallbackKey] | None,
        Size(max=MAX_BATCH_RECORDS),
        About("outside the chain: each call-back number's own key, sealed to the server's key, "
              "for details records in this batch; erasing it on the server erases the number"),
    ] = None


@dataclass(frozen=True)
class CallbackKey:
    """The key that opens one details record's ``callback_box``, sealed to
    the server's public key. It travels beside the records, never inside
    one: the chain does not hash it, so the server can destroy it."""

    record_uuid: Annotated[str, Pattern(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    sealed_key: Annotated[str, Pattern(r"^[A-Za-z0-9+/]{107}=$"), About("NaCl sealed box of 32 bytes, base64")]


@dataclass(frozen=True)
class RecordResult:
    """What happened to one record."""

    index: Annotated[int, About("position of the record in the batch")]
    uuid: str | None
    seq: int | None
    status: Status
    http_status: Annotated[int, About("201 stored, 200 duplicate, 409 conflict, 422 rejected")]
    error: str | None
    detail: str
    flags: list[str]


@dataclass(frozen=True)
class BatchAnswer:
    """The answer to a batch: one result per record. Every status is final."""

    device_id: str
    idempotency_key: str
    received_at: str
    clock_offset_s: float
    replay: bool
    counts: dict[str, int]
    results: list[RecordResult]


@dataclass(frozen=True)
class Finding:
    """Something wrong the server found in a device's chain."""

    seq: int | None
    uuid: str | None
    problem: str
    detail: str
    found_at: str
    resolved_at: str | None = None


@dataclass(frozen=True)
class DeviceHealth:
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
    findings: list[Finding]
    sealed_from_seq: Annotated[
        int | None, About("the first record sealed with the device's evolving key (sync.seal); none: never sealed")
    ] = None
    unsealed_count: Annotated[
        int, About("records kept that were made before sealing began: not protected against a later rewrite")
    ] = 0


@dataclass(frozen=True)
class SealKeyRequest:
    """A tablet handing the server its first sealing key, right after pairing
    (signed with the device secret). The server keeps it, evolves it and
    checks every seal from ``first_seq`` on; it takes one key per device."""

    device_id: Annotated[str, Pattern(ID_PATTERN)]
    first_seq: Annotated[int, Range(1, MAX_INT), About("the sequence number of the first record it seals")]
    key: Annotated[str, Pattern(r"^[0-9a-f]{64}$"), About("the first key, 32 bytes as hex")]


@dataclass(frozen=True)
class SealKeyAnswer:
    """The server has the key (``registered``), or had it already from this
    very request (``already_registered``, a retry)."""

    device_id: str
    first_seq: int
    status: Literal["registered", "already_registered"]


ROSTER_KEYED_PINS = 2
"""The roster version from which PIN verifiers are keyed to the fetching device."""


@dataclass(frozen=True)
class RosterPhoto:
    """Where an officer's portrait is downloaded, and how to check it."""

    sha256: Annotated[str, Pattern(r"^[0-9a-f]{64}$")]
    content_type: str
    path: Annotated[str, About("a path under the API, fetched with a signed GET")]


@dataclass(frozen=True)
class RosterOfficer:
    """An officer as the roster carries them."""

    id: str
    name: str
    title: str
    active: bool
    pin_hash: Annotated[
        str | None,
        About("the PIN verifier keyed to the fetching device (sync.pin.key_pin_hash) from roster version 2 on"),
    ]
    photo: RosterPhoto | None
    counter: Annotated[str | None, About("the counter the officer usually serves at")] = None


@dataclass(frozen=True)
class RosterCounter:
    """A counter of the one-stop office."""

    id: str
    name: str


@dataclass(frozen=True)
class RosterCommune:
    """The commune's name and the leaders' hotline."""

    name: str
    hotline: str
    leaders: Annotated[str, About("who calls citizens back, named in the tablet's consent text")] = ""


@dataclass(frozen=True)
class RosterDocument:
    """What the server pushes to every tablet (``GET /api/v1/roster``).

    ``reasons`` and ``settings`` are checked on the tablet by the rules of
    :mod:`sync.roster`, the same ones the server applied before serving them.
    From ``version`` :data:`ROSTER_KEYED_PINS` on, every officer's ``pin_hash``
    is keyed to the device that fetched it (:func:`sync.pin.key_pin_hash`), so
    the document differs from one tablet to the next.
    """

    version: Annotated[int, About("2: PIN verifiers keyed to the fetching device; 1: plain verifiers (older servers)")]
    commune: RosterCommune
    counters: list[RosterCounter]
    officers: list[RosterOfficer]
    reasons: Annotated[dict[str, Any], About("low and high reasons, as in config.yaml")]
    settings: Annotated[dict[str, Any], About("the commune-wide settings (sync.roster.COMMUNE_KEYS)")]
    public_url: Annotated[
        str | None,
        Pattern(r"^https?://[^\s]+$"),
        About("where citizens' phones reach the server (its --public-url): the comment QR code points there"),
    ] = None
    callback_key: CallbackPublicKey = None
    callback_retention_months: Annotated[
        int | None, Range(1, 1200), About("months a call-back number is kept after its case is resolved")
    ] = None


SHAPES: tuple[type, ...] = (
    ErrorAnswer,
    DeviceCodeRequest,
    DeviceAuthorization,
    TokenRequest,
    DeviceGrant,
    BatchRequest,
    CallbackKey,
    RecordResult,
    BatchAnswer,
    Finding,
    DeviceHealth,
    SealKeyRequest,
    SealKeyAnswer,
    RosterPhoto,
    RosterOfficer,
    RosterCounter,
    RosterCommune,
    RosterDocument,
)
"""Every top-level shape of the contract."""


# -- reading and writing -----------------------------------------------------------------


class WireError(ValueError):
    """What was received does not have the contract's shape; ``path`` names
    the field (``results[3].status``)."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path or 'body'}: {problem}")
        self.path = path
        self.problem = problem


def to_wire(value: Any) -> dict[str, Any]:
    """A shape as the JSON-ready mapping that is sent.

    Like ``dataclasses.asdict`` but without its deep copies: a batch answer
    of thousands of results is built on every upload.
    """
    return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}


@cache
def _field_names(shape: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(shape))


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if dataclasses.is_dataclass(value):
        return to_wire(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def parse(shape: type[T], data: Any, *, extra: Literal["ignore", "forbid"] = "ignore") -> T:
    """Check ``data`` (decoded JSON) against ``shape`` and build it.

    Types are strict (``1`` is not ``True``, ``"1"`` is not ``1``; a whole
    number may stand for a float, as JSON allows). Unknown keys are ignored,
    so an older tablet reads a newer server's answers, unless ``extra`` is
    ``"forbid"``. Raises :class:`WireError`.
    """
    return _check(shape, data, "", extra)


@cache
def hints(shape: type) -> dict[str, Any]:
    """The resolved field annotations of a shape, markers included."""
    return get_type_hints(shape, include_extras=True)


def _check(tp: Any, value: Any, path: str, extra: str) -> Any:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *markers = get_args(tp)
        value = _check(base, value, path, extra)
        for marker in markers:
            _apply(marker, value, path)
        return value
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _check(inner, value, path, extra)
    if origin is Literal:
        if not any(value == option and type(value) is type(option) for option in get_args(tp)):
            raise WireError(path, f"must be one of {', '.join(repr(o) for o in get_args(tp))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise WireError(path, "must be a list")
        (item,) = get_args(tp)
        return [_check(item, v, f"{path}[{i}]", extra) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise WireError(path, "must be an object")
        _, item = get_args(tp)
        return {k: _check(item, v, f"{path}.{k}" if path else k, extra) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _check_shape(tp, value, path, extra)
    if tp is bool:
        if not isinstance(value, bool):
            raise WireError(path, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireError(path, "must be a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError(path, "must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise WireError(path, "must be a string")
        return value
    raise TypeError(f"the contract has a field type it cannot check: {tp!r}")


def _check_shape(shape: type, value: Any, path: str, extra: str) -> Any:
    if not isinstance(value, dict):
        raise WireError(path, "must be an object")
    fields = {f.name: f for f in dataclasses.fields(shape)}
    if extra == "forbid":
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise WireError(_join(path, str(unknown[0])), "is not a field of " + shape.__name__)
    kwargs = {}
    for name, f in fields.items():
        where = _join(path, name)
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise WireError(where, "is missing")
            continue
        kwargs[name] = _check(hints(shape)[name], value[name], where, extra)
    return shape(**kwargs)


def _apply(marker: Any, value: Any, path: str) -> None:
    if value is None or isinstance(marker, About):
        return
    if isinstance(marker, Size):
        if marker.min is not None and len(value) < marker.min:
            raise WireError(path, f"must have at least {marker.min} items or characters")
        if marker.max is not None and len(value) > marker.max:
            raise WireError(path, f"must have at most {marker.max} items or characters")
    elif isinstance(marker, Pattern):
        if not re.fullmatch(marker.regex, value):
            raise WireError(path, "has the wrong form")
    elif isinstance(marker, Range):
        if marker.ge is not None and value < marker.ge:
            raise WireError(path, f"must be at least {marker.ge}")
        if marker.le is not None and value > marker.le:
            raise WireError(path, f"must be at most {marker.le}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name

