"""Pairing a tablet with its commune server, in the pattern of RFC 8628
(OAuth 2.0 device authorization grant).

1. The tablet asks for a device code (:meth:`PairingClient.start`).
2. It shows the short user code and a QR code of the approval address.
3. A technician approves the code on the server.
4. The tablet polls (:meth:`PairingClient.wait`), honouring
   ``authorization_pending``, ``slow_down``, ``expired_token`` and
   ``access_denied``, and receives its own secret, which it keeps in a file
   only its owner can read.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.link.credentials import DeviceCredentials
from kiosk.link.transport import ServerLink, TransportError
from sync import wire
from sync.protocol import API_PREFIX, DEVICE_CODE_GRANT, ErrorCode

__all__ = [
    "DeviceAuthorization",
    "PairingClient",
    "PairingFailed",
    "qr_text",
]


class PairingFailed(Exception):
    """Pairing ended without a secret; ``code`` is the server's reason
    (``access_denied``, ``expired_token``, …)."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class DeviceAuthorization(wire.DeviceAuthorization):
    """The server's answer to a pairing request (RFC 8628 §3.2), and when it came."""

    started_monotonic: float = 0.0


MAX_RETRY_AFTER_S = 300.0
"""The longest ``Retry-After`` a poll waits for (a code lives 10 minutes)."""


class PairingClient:
    """The tablet's side of pairing with one server."""

    def __init__(self, server_url: str, *, timeout: tuple[float, float] = (5.0, 15.0)):
        self.server_url = server_url.rstrip("/")
        self.link = ServerLink(self.server_url, timeout=timeout)

    def start(self, device_id: str, label: str | None = None, app_version: str | None = None) -> DeviceAuthorization:
        """Ask the server for a device code and a user code."""
        status, data = self.link.post_json(
            f"{API_PREFIX}/pair/device-code",
            wire.to_wire(wire.DeviceCodeRequest(device_id=device_id, label=label, app_version=app_version)),
        )
        if status != 200:
            raise PairingFailed(str(data.get("error", status)), str(data.get("detail", "pairing refused")))
        try:
            answer = wire.parse(wire.DeviceAuthorization, data)
        except wire.WireError:
            raise PairingFailed("malformed", "the server's answer is not a device authorization") from None
        return DeviceAuthorization(
            **wire.to_wire(answer) | {
                "verification_uri_complete": answer.verification_uri_complete or answer.verification_uri,
                "interval": max(1, answer.interval),
            },
            started_monotonic=time.monotonic(),
        )

    def poll_once(self, authorization: DeviceAuthorization) -> tuple[str | None, dict]:
        """One poll: ``(None, grant)`` once approved, else ``(error code, answer)``."""
        status, data = self.link.post_json(
            f"{API_PREFIX}/pair/token",
            wire.to_wire(wire.TokenRequest(grant_type=DEVICE_CODE_GRANT, device_code=authorization.device_code)),
        )
        if status == 200:
            return None, data
        return str(data.get("error", f"http_{status}")), data

    def wait(
        self,
        authorization: DeviceAuthorization,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str], None] | None = None,
    ) -> DeviceCredentials:
        """Poll until the technician decides; return the device's credentials.

        Waits ``interval`` seconds between polls, 5 more after every
        ``slow_down`` (RFC 8628 §3.5), backs off on network errors, and
        waits as long as a refusal's ``Retry-After`` says. Raises
        :class:`PairingFailed` when denied, expired or refused.
        """
        interval = authorization.interval
        deadline = authorization.started_monotonic + authorization.expires_in
        while True:
            if time.monotonic() >= deadline:
                raise PairingFailed(ErrorCode.EXPIRED_TOKEN, "the code expired before it was approved")
            sleep(interval)
            try:
                error, data = self.poll_once(authorization)
            except TransportError as exc:
                # RFC 8628 §3.5: back off on connection trouble; a server that
                # said how long to wait (429 rate_limited, 503 busy) is waited
                # for, at most MAX_RETRY_AFTER_S: polling sooner only meets
                # another refusal.
                interval = min(interval * 2, 60)
                if exc.retry_after_s:
                    interval = max(interval, min(exc.retry_after_s, MAX_RETRY_AFTER_S))
                if on_wait:
                    on_wait(f"network: {exc.detail}")
                continue
            if error is None:
                try:
                    grant = wire.parse(wire.DeviceGrant, data)
                except wire.WireError:
                    raise PairingFailed("malformed", "the server's answer has no secret") from None
                return DeviceCredentials(
                    device_id=grant.device_id,
                    secret=grant.device_secret,
                    server_url=self.server_url,
                    paired_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    callback_key=grant.callback_key,
                )
            if error == ErrorCode.AUTHORIZATION_PENDING:
                pass
            elif error == ErrorCode.SLOW_DOWN:
                interval += 5
            elif error in (ErrorCode.EXPIRED_TOKEN, ErrorCode.ACCESS_DENIED, ErrorCode.INVALID_GRANT):
                raise PairingFailed(error, str(data.get("detail", "")))
            else:
                raise PairingFailed(error, str(data.get("detail", "pairing refused")))
            if on_wait:
                on_wait(error)


def qr_text(data: str) -> str:
    """A QR code of ``data`` drawn with text characters, for a terminal."""
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(data)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()
