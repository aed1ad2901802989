"""The tablet's HTTP link to its commune server (``requests``): signing
requests, checking the server's signature on answers, and turning every way a
request can fail into one :class:`TransportError` that says whether trying
again can help.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from sync.backoff import parse_retry_after
from sync.credentials import DeviceCredentials
from sync.protocol import (
    API_PREFIX,
    DEVICE_HEADER,
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

    @property
    def retryable(self) -> bool:
        return self.kind == RETRY


@dataclass(frozen=True)
class Fetched:
    """A conditional GET's answer: ``body`` is ``None`` when not modified."""

    body: bytes | None
    etag: str | None
    content_type: str | None


class ServerLink:
    """Requests to one commune server, as one device."""

    def __init__(self, base_url: str, credentials: DeviceCredentials | None = None, *,
                 session: requests.Session | None = None, timeout: tuple[float, float] = (5.0, 30.0)):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.session = session or requests.Session()
        self.timeout = timeout

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

    def get_signed(self, path: str, etag: str | None, timestamp: str) -> Fetched:
        """A signed conditional GET."""
        credentials = self._require_credentials()
        headers = {
            DEVICE_HEADER: credentials.device_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(credentials.secret, get_signing_text(path, timestamp)),
        }
        if etag:
            headers["If-None-Match"] = etag
        response = self._request("GET", path, headers=headers)
        if response.status_code == 304:
            return Fetched(None, response.headers.get("ETag") or etag, None)
        if response.status_code != 200:
            raise self._failure(response)
        content = self._content(response)
        self._check_signature(response, content)
        return Fetched(content, response.headers.get("ETag"), response.headers.get("Content-Type"))

    # -- internals ---------------------------------------------------------------------

    def _require_credentials(self) -> DeviceCredentials:
        if self.credentials is None:
            raise TransportError(UNAUTHORIZED, "this tablet is not paired with a server yet")
        return self.credentials

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + (path if path.startswith("/") else f"{API_PREFIX}/{path}")
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
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
