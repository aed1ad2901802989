"""The tablet's HTTP link to its commune server (``requests``): signing
requests, checking the server's signature on answers, and turning every way a
request can fail into one :class:`TransportError` that says whether trying
again can help.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from kiosk.link.backoff import parse_retry_after
from kiosk.link.credentials import DeviceCredentials
from sync.protocol import (
    API_PREFIX,
    DEVICE_HEADER,
    SERVER_TIME_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ErrorCode,
    get_signing_text,
    sign,
    verify,
)

__all__ = ["TransportError", "ServerLink", "Fetched"]

# Kinds of failure, by what the uploader should do about them.
RETRY = "retry"                # network trouble or a server error: back off and try again
UNAUTHORIZED = "unauthorized"  # the server does not know this device or its key
REVOKED = "revoked"            # the device was revoked: stop until paired again
TOO_LARGE = "too_large"        # send smaller batches
STALE_BATCH = "stale_batch"    # the batch's key was used for other records: build a new batch
REFUSED = "refused"            # any other refusal: a bug or a newer server; wait long

_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class TransportError(Exception):
    """A request that did not get a usable answer."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None, code: str | None = None,
                 retry_after_s: float | None = None):
        super().__init__(detail)
        self.kind, self.detail, self.status, self.code = kind, detail, status, code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Fetched:
    """A conditional GET's answer: ``body`` is ``None`` when not modified."""

    body: bytes | None
    etag: str | None
    content_type: str | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def server_time(headers: Any) -> datetime | None:
    """The server's clock as its answer gives it: :data:`SERVER_TIME_HEADER`
    (milliseconds), else the HTTP ``Date`` header (seconds), else None."""
    text = headers.get(SERVER_TIME_HEADER)
    try:
        if text:
            when = datetime.fromisoformat(text)
            if when.tzinfo is not None:
                return when
        text = headers.get("Date")
        if text:
            when = parsedate_to_datetime(text)
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError, IndexError):
        pass
    return None


class ServerLink:
    """Requests to one commune server, as one device.

    The link learns the server's clock from every answer
    (:attr:`clock_offset_s`) and signs GETs with timestamps corrected by it:
    the server refuses a signed GET whose timestamp is far from its own clock
    (a replay), and a tablet's clock can be days off. ``now`` is the tablet's
    wall clock (UTC); it must be the clock the callers' timestamps come from.
    """

    def __init__(self, base_url: str, credentials: DeviceCredentials | None = None, *,
                 session: requests.Session | None = None, timeout: tuple[float, float] = (5.0, 30.0),
                 now: Callable[[], datetime] = _utc_now):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.session = session or requests.Session()
        self.timeout = timeout
        self.now = now
        self.clock_offset_s: float | None = None
        """Server time minus the tablet's, from the latest answer; None until one came."""

    def close(self) -> None:
        self.session.close()

    # -- plain JSON (pairing) ------------------------------------------------------

    def post_json(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST unsigned JSON; returns the status and the JSON answer (4xx included)."""
        response = self._request("POST", path, data=json.dumps(payload).encode("utf-8"),
                                 headers={"Content-Type": "application/json"})
        if response.status_code in _RETRY_STATUSES or response.status_code >= 500:
            raise self._failure(response)
        return response.status_code, self._json(response)

    # -- signed requests -----------------------------------------------------------

    def post_signed(self, path: str, body: bytes) -> dict[str, Any]:
        """POST a signed body and return the server's signed JSON answer."""
        credentials = self._require_credentials()
        response = self._request("POST", path, data=body, headers={
            "Content-Type": "application/json",
            DEVICE_HEADER: credentials.device_id,
            SIGNATURE_HEADER: sign(credentials.secret, body),
        })
        if response.status_code != 200:
            raise self._failure(response)
        content = self._content(response)
        self._check_signature(response, content)
        try:
            return json.loads(content)
        except ValueError:
            raise TransportError(RETRY, "the answer is not complete JSON", status=200) from None

    def get_signed(self, path: str, etag: str | None, timestamp: str | None = None) -> Fetched:
        """A signed conditional GET.

        ``timestamp`` is the tablet's time (ISO 8601, default now); it is
        moved onto the server's clock by the offset learnt so far. If the
        server still finds it stale (the first request of a link whose
        tablet clock is off), its answer has taught the link the server's
        time, and the request is signed again and sent once more."""
        credentials = self._require_credentials()
        offset_before = self.clock_offset_s
        response = self._get(credentials, path, etag, timestamp)
        if (response.status_code == 401 and self._error_code(response) == ErrorCode.STALE_TIMESTAMP
                and self.clock_offset_s is not None and self.clock_offset_s != offset_before):
            response = self._get(credentials, path, etag, timestamp)
        if response.status_code == 304:
            return Fetched(None, response.headers.get("ETag") or etag, None)
        if response.status_code != 200:
            raise self._failure(response)
        content = self._content(response)
        self._check_signature(response, content)
        return Fetched(content, response.headers.get("ETag"), response.headers.get("Content-Type"))

    # -- internals ---------------------------------------------------------------------

    def _get(self, credentials: DeviceCredentials, path: str, etag: str | None,
             timestamp: str | None) -> requests.Response:
        stamp = self._server_timestamp(timestamp)
        headers = {
            DEVICE_HEADER: credentials.device_id,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(credentials.secret, get_signing_text(path, stamp)),
        }
        if etag:
            headers["If-None-Match"] = etag
        return self._request("GET", path, headers=headers)

    def _server_timestamp(self, timestamp: str | None) -> str:
        """The tablet's time (``timestamp``, or now) on the server's clock, as ISO 8601."""
        try:
            when = datetime.fromisoformat(timestamp) if timestamp else self.now()
            if when.tzinfo is None:
                return timestamp or ""  # not ours to fix; the server will say what is wrong
            if self.clock_offset_s is not None:
                when += timedelta(seconds=self.clock_offset_s)
            return when.astimezone(UTC).isoformat(timespec="seconds")
        except (ValueError, OverflowError):
            return timestamp or ""

    def _learn_clock(self, response: requests.Response, sent: datetime, received: datetime) -> None:
        # The answer was stamped somewhere between sending and receiving: the
        # midpoint is the best guess of the tablet's time at that moment.
        when = server_time(response.headers)
        if when is None:
            return
        try:
            self.clock_offset_s = (when - (sent + (received - sent) / 2)).total_seconds()
        except (OverflowError, TypeError):
            pass

    @staticmethod
    def _error_code(response: requests.Response) -> str | None:
        try:
            data = json.loads(response.content)
        except (ValueError, requests.RequestException):
            return None
        return data.get("error") if isinstance(data, dict) else None

    def _require_credentials(self) -> DeviceCredentials:
        if self.credentials is None:
            raise TransportError(UNAUTHORIZED, "this tablet is not paired with a server yet")
        return self.credentials

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + (path if path.startswith("/") else f"{API_PREFIX}/{path}")
        try:
            sent = self.now()
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            self._learn_clock(response, sent, self.now())
            return response
        except requests.Timeout:
            raise TransportError(RETRY, "the server did not answer in time") from None
        except requests.ConnectionError as exc:
            raise TransportError(RETRY, f"cannot reach the server ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(RETRY, f"the request failed ({type(exc).__name__})") from None

    @staticmethod
    def _content(response: requests.Response) -> bytes:
        try:
            content = response.content
        except requests.RequestException as exc:
            raise TransportError(RETRY, f"the answer was cut off ({type(exc).__name__})") from None
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != len(content):
            raise TransportError(RETRY, "the answer was cut off")
        return content

    def _check_signature(self, response: requests.Response, content: bytes) -> None:
        credentials = self._require_credentials()
        if not verify(credentials.secret, content, response.headers.get(SIGNATURE_HEADER)):
            # Not our server's word (or mangled on the way): do not act on it.
            raise TransportError(RETRY, "the answer is not signed by the server", status=response.status_code)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            data = json.loads(ServerLink._content(response))
        except ValueError:
            raise TransportError(RETRY, "the answer is not complete JSON", status=response.status_code) from None
        if not isinstance(data, dict):
            raise TransportError(RETRY, "the answer is not a JSON object", status=response.status_code)
        return data

    def _failure(self, response: requests.Response) -> TransportError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        try:
            data = json.loads(response.content)
            code = data.get("error") if isinstance(data, dict) else None
            detail = data.get("detail") if isinstance(data, dict) else None
        except (ValueError, requests.RequestException):
            code, detail = None, None
        detail = f"HTTP {status}: {detail or response.reason or 'error'}"
        if status in _RETRY_STATUSES or status >= 500:
            return TransportError(RETRY, detail, status=status, code=code, retry_after_s=retry_after)
        if status == 401:
            return TransportError(UNAUTHORIZED, detail, status=status, code=code)
        if status == 403 and code == ErrorCode.DEVICE_REVOKED:
            return TransportError(REVOKED, detail, status=status, code=code)
        if status == 413:
            return TransportError(TOO_LARGE, detail, status=status, code=code)
        if code == ErrorCode.IDEMPOTENCY_KEY_REUSED:
            return TransportError(STALE_BATCH, detail, status=status, code=code)
        return TransportError(REFUSED, detail, status=status, code=code, retry_after_s=retry_after)
