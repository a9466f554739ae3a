"""Rate limits per principal: a token bucket each, so one client cannot take the service from the others.

A principal (a token, a user, an anonymous client's address: `Principal.rate_key`) may make `burst` requests
at once, then `per_s` a second on average; past that it is answered 429 with `Retry-After`, in GraphQL's JSON
error shape. The health checks are not limited: a load balancer must always reach them.

Memory is bounded: at most `MAX_KEYS` buckets are kept, the least recently used dropped first. A bucket left
idle for `burst / per_s` seconds is full again, the same as a new one, so dropping it forgets nothing; a
flood of distinct addresses only drops the buckets idle longest.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from graphsvc.api.http_limits import refuse
from graphsvc.auth.principal import anonymous_rate_key

MAX_KEYS = 10_000
EXEMPT_PATHS = frozenset({"/health", "/ready"})


class TokenBuckets:
    """One bucket of `burst` tokens per key, refilled at `per_s` tokens a second; a request takes one."""

    def __init__(
        self, per_s: float, burst: int, max_keys: int = MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_s = per_s
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """key -> (tokens, when they were counted), least recently used first."""

    def take(self, key: str) -> float:
        """Take a token for `key`: 0 when it had one, else the seconds until it will have."""
        now = self.clock()
        tokens, counted = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - counted) * self.per_s)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.per_s
        self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: str) -> bool:
        return key in self._buckets


class RateLimit:
    """ASGI middleware: refuses a principal's requests past its rate with 429."""

    def __init__(self, app: ASGIApp, *, per_s: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(per_s, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in EXEMPT_PATHS:
            wait = self.buckets.take(rate_key(scope))
            if wait > 0:
                await self._refuse(scope, send, math.ceil(wait))
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, retry_after: int) -> None:
        buckets = self.buckets
        message = (
            f"rate limit exceeded: {buckets.per_s:g} requests per second, in bursts of up to {buckets.burst}, "
            f"per token, user or anonymous address; retry in {retry_after} s"
        )
        retry = [(b"retry-after", str(retry_after).encode())]
        await refuse(send, 429, message, "RATE_LIMITED", headers=retry, scope=scope)


def rate_key(scope: Scope) -> str:
    """What the request counts against: its principal's `rate_key` (the auth middleware puts the principal in
    the scope's state), else its client's address."""
    principal = scope.get("state", {}).get("principal")
    if principal is not None:
        return str(principal.rate_key)
    client = scope.get("client")
    return anonymous_rate_key(client[0] if client else "unknown")
