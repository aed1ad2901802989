"""How fast anonymous callers may ask to pair: a token bucket per client
address and one for the whole server.

Pairing is the only write anyone may make without an account or a device
secret, so it is rationed before it reaches the database. Each address may
make a short burst of requests and then one every few seconds; the server as
a whole accepts a larger burst and a steady rate well above what a commune's
tablets ever need. A refused request is answered 429 with ``Retry-After``
and costs nothing from the shared bucket, so one address flooding the server
cannot use up the others' share. Plain rules with a given clock, no HTTP.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sync.protocol import ErrorCode

__all__ = [
    "Bucket",
    "PairingGate",
    "RATE_LIMITED",
    "PER_ADDRESS_BURST",
    "PER_ADDRESS_EVERY_S",
    "SERVER_BURST",
    "SERVER_EVERY_S",
]

RATE_LIMITED = ErrorCode.RATE_LIMITED
"""The error code of a refused pairing request (HTTP 429)."""

# Requests for a device code: 10 at once from one address, then one every 6 s.
PER_ADDRESS_BURST = 10
PER_ADDRESS_EVERY_S = 6.0
# The whole server: 60 at once, then one every half second (120 a minute).
SERVER_BURST = 60
SERVER_EVERY_S = 0.5
# Polls for the secret are lighter and come every few seconds from each
# waiting tablet: a larger allowance per address, same shape.
POLL_BURST = 30
POLL_EVERY_S = 1.0
# Addresses remembered at most; full buckets are forgotten first.
MAX_ADDRESSES = 10_000


@dataclass
class Bucket:
    """A token bucket: ``burst`` tokens, one more every ``every_s`` seconds."""

    burst: int
    every_s: float
    tokens: float = -1.0
    at: float = 0.0

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look."""
        if self.tokens < 0:
            self.tokens, self.at = float(self.burst), now
            return
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.at) / self.every_s)
        self.at = now

    def wait_s(self) -> float:
        """Seconds until a token is there (0 when one is)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * self.every_s


@dataclass
class _Limit:
    burst: int
    every_s: float
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def bucket(self, address: str, now: float) -> Bucket:
        found = self.buckets.get(address)
        if found is None:
            if len(self.buckets) >= MAX_ADDRESSES:
                self._forget(now)
            found = self.buckets[address] = Bucket(self.burst, self.every_s)
        found.refill(now)
        return found

    def _forget(self, now: float) -> None:
        # Buckets that have refilled are the same as new ones: drop them; if
        # none has, drop the oldest half rather than grow without bound.
        for address, bucket in list(self.buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.burst:
                del self.buckets[address]
        if len(self.buckets) >= MAX_ADDRESSES:
            for address in sorted(self.buckets, key=lambda a: self.buckets[a].at)[: MAX_ADDRESSES // 2]:
                del self.buckets[address]


class PairingGate:
    """The pairing routes' rate limits, shared by every request of one server.

    :meth:`admit` takes a token from the caller's bucket and the server's,
    or answers how many seconds to wait. Thread-safe (the routes run on
    worker threads)."""

    def __init__(self, *, per_address: tuple[int, float] = (PER_ADDRESS_BURST, PER_ADDRESS_EVERY_S),
                 server: tuple[int, float] = (SERVER_BURST, SERVER_EVERY_S),
                 polls: tuple[int, float] = (POLL_BURST, POLL_EVERY_S),
                 clock: Callable[[], float] = time.monotonic):
        self._requests = _Limit(*per_address)
        self._polls = _Limit(*polls)
        self._server = Bucket(*server)
        self._clock = clock
        self._lock = threading.Lock()

    def admit(self, address: str, *, poll: bool = False) -> int:
        """Let one request from ``address`` through: 0, or else the whole
        seconds to wait before asking again (the ``Retry-After``)."""
        with self._lock:
            now = self._clock()
            own = (self._polls if poll else self._requests).bucket(address, now)
            self._server.refill(now)
            wait = max(own.wait_s(), self._server.wait_s())
            if wait > 0:
                return max(1, math.ceil(wait))
            own.tokens -= 1
            self._server.tokens -= 1
            return 0
