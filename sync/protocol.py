"""The device-to-server protocol's shared vocabulary: paths, header names,
limits, status and error codes, and how requests and responses are signed.

Both ends import this module, so a name or a limit is defined once. It knows
nothing about HTTP libraries or databases.

Signing. A device holds a secret it received at pairing. Every request it
makes with that secret carries two headers: :data:`DEVICE_HEADER` (its id)
and :data:`SIGNATURE_HEADER` (``sha256=`` and the hex HMAC-SHA256 of the
request body with the secret). A request without a body (``GET``) signs the
text ``"GET <path> <timestamp>"`` instead and sends the timestamp in
:data:`TIMESTAMP_HEADER`. The server signs its answers to a device the same
way, over the response body, so a device never marks records as sent on the
word of something that is not its server.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "API_PREFIX",
    "PROTOCOL_VERSION",
    "DEVICE_CODE_GRANT",
    "DEVICE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SERVER_TIME_HEADER",
    "SIGNED_GET_WINDOW_S",
    "MAX_BATCH_RECORDS",
    "MAX_BODY_BYTES",
    "RecordStatus",
    "ErrorCode",
    "sign",
    "verify",
    "get_signing_text",
]

PROTOCOL_VERSION = 1
API_PREFIX = "/api/v1"

# RFC 8628, section 3.4.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

DEVICE_HEADER = "X-Hailong-Device"
SIGNATURE_HEADER = "X-Hailong-Signature"
TIMESTAMP_HEADER = "X-Hailong-Timestamp"
REPLAY_HEADER = "X-Hailong-Replay"
# The server's clock on every answer (ISO 8601 UTC, milliseconds): a tablet
# whose clock is wrong learns from it what time to put in signed GETs.
SERVER_TIME_HEADER = "X-Hailong-Server-Time"

# How far a signed GET's timestamp may be from the server's clock by default,
# in seconds: past it the request is refused as a possible replay.
SIGNED_GET_WINDOW_S = 600

# A batch of more records, or a body larger than this, is refused with 413.
MAX_BATCH_RECORDS = 5000
MAX_BODY_BYTES = 8 * 1024 * 1024

# Strings in a record longer than this are refused (a reason id, an officer id
# or an app version is never near it); it keeps a hostile batch from filling
# the server's disk through one field.
MAX_FIELD_CHARS = 500
# Integers must fit a signed 64-bit column on every database.
MAX_INT = 2**63 - 1


class RecordStatus:
    """What the server did with one record of a batch. Every one of them is
    final: the device marks the record as sent and never sends it again."""

    STORED = "stored"
    """New, kept (possibly with flags saying what is wrong with it)."""
    DUPLICATE = "duplicate"
    """Already kept with the same content: acknowledged again, stored once."""
    CONFLICT = "conflict"
    """The UUID (or the place in the chain) is taken by different content:
    refused, kept aside as a conflict."""
    REJECTED = "rejected"
    """Malformed or not this device's: refused."""

    ALL = (STORED, DUPLICATE, CONFLICT, REJECTED)
    # The HTTP status each would have on its own, reported per record.
    HTTP = {STORED: 201, DUPLICATE: 200, CONFLICT: 409, REJECTED: 422}


class ErrorCode:
    """Machine codes in the ``error`` field of every error answer."""

    # RFC 8628 polling answers.
    AUTHORIZATION_PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    EXPIRED_TOKEN = "expired_token"
    ACCESS_DENIED = "access_denied"
    INVALID_GRANT = "invalid_grant"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    # Authentication of a device's request.
    UNKNOWN_DEVICE = "unknown_device"
    BAD_SIGNATURE = "bad_signature"
    DEVICE_REVOKED = "device_revoked"
    STALE_TIMESTAMP = "stale_timestamp"
    # Input.
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    TOO_SLOW = "too_slow"
    """408: the body did not arrive within the server's body timeout."""
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    WRONG_DEVICE = "wrong_device"
    NOT_FOUND = "not_found"
    SEAL_KEY_REFUSED = "seal_key_refused"
    """409: the device has another sealing key already, or records past the first sealed one."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RATE_LIMITED = "rate_limited"
    """429 with Retry-After: too many pairing requests from this address, or for the server."""
    DEVICE_ACTIVE = "device_active"
    """Approving a pairing that would replace an active device's secret, without saying so."""
    # The server's own state.
    BUSY = "busy"
    """503 with Retry-After: the database stayed locked past the server's wait."""
    DISK_FULL = "disk_full"
    """507 with Retry-After: the server's disk is full; nothing was stored, send it again later."""
    NO_ROSTER = "no_roster"
    INTERNAL = "internal"


def sign(secret: str, message: bytes) -> str:
    """The signature header value for ``message``: ``sha256=<hex HMAC>``."""
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, message: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the right one for ``message``, compared in
    constant time so the answer leaks nothing about the secret."""
    if not signature:
        return False
    # compare_digest refuses str holding non-ASCII characters (TypeError); a
    # header can carry any Latin-1 text, and such a value is simply wrong.
    try:
        given = signature.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(secret, message).encode("ascii"), given)


def get_signing_text(path: str, timestamp: str) -> bytes:
    """What a body-less ``GET`` signs: the path and the device's timestamp."""
    return f"GET {path} {timestamp}".encode()
