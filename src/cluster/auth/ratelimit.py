"""Per-key and per-IP rate limits in fixed one-minute windows.

Two stores behind one protocol: ``RedisCounters`` (an atomic Lua check-and-add, exact across every gateway
process sharing the Redis) and ``MemoryCounters`` (this process only, when no Redis is configured). A window
admits an amount only if it still fits under the limit, so N requests per minute means exactly N.
When Redis cannot be reached the configured policy applies: admit (fail open) or refuse with 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from cluster.errors import RateLimited, ServiceUnavailable

log = logging.getLogger(__name__)
WINDOW = 60

# All-or-nothing over several windows in one round trip: KEYS are the windows, ARGV[1] the TTL, then an
# (amount, limit) pair per key. Returns {admitted, index of the first full window (1-based) or 0, totals...}.
_CHECK_AND_ADD = """
local totals = {}
for i, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key) or '0')
  local amount = tonumber(ARGV[2 * i])
  if amount > 0 and current + amount > tonumber(ARGV[2 * i + 1]) then
    return {0, i, current}
  end
end
for i, key in ipairs(KEYS) do
  totals[i] = redis.call('INCRBY', key, tonumber(ARGV[2 * i]))
  redis.call('EXPIRE', key, tonumber(ARGV[1]))
end
return {1, 0, unpack(totals)}
"""

Request = tuple[str, int, int]  # (window key, amount, limit)


class Counters(Protocol):
    async def add(self, requests: list[Request]) -> tuple[bool, int, list[int]]:
        """Add every amount to its key if each total stays within its limit, else add nothing (negative
        amounts always apply). Returns (admitted, index of the first window that was full, totals)."""
        ...

    async def aclose(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window = -1

    async def add(self, requests: list[Request]) -> tuple[bool, int, list[int]]:
        window = int(time.time()) // WINDOW
        if window != self._window:  # keys carry their window, so the old ones can all go
            self._counts.clear()
            self._window = window
        for i, (key, amount, limit) in enumerate(requests):
            current = self._counts.get(key, 0)
            if amount > 0 and current + amount > limit:
                return False, i, [current]
        for key, amount, _ in requests:
            self._counts[key] = self._counts.get(key, 0) + amount
        return True, -1, [self._counts[key] for key, _, _ in requests]

    async def aclose(self) -> None:
        pass


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_CHECK_AND_ADD)

    async def add(self, requests: list[Request]) -> tuple[bool, int, list[int]]:
        args: list[int] = [WINDOW * 2]
        for _, amount, limit in requests:
            args += [amount, limit]
        admitted, full, *totals = await self._script(keys=[key for key, _, _ in requests], args=args)
        return bool(admitted), int(full) - 1, [int(t) for t in totals]

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass(slots=True)
class Window:
    kind: str  # "requests" | "tokens"
    limit: int
    remaining: int
    reset: float

    def headers(self) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{self.kind}": str(self.limit),
            f"x-ratelimit-remaining-{self.kind}": str(max(self.remaining, 0)),
            f"x-ratelimit-reset-{self.kind}": f"{self.reset:.0f}s",
        }


class RateLimiter:
    def __init__(self, counters: Counters, *, fail_open: bool) -> None:
        self._counters = counters
        self._fail_open = fail_open
        self._corrections: set[asyncio.Task[None]] = set()

    async def take(self, bucket: str, limit: int | None, amount: int, kind: str) -> Window | None:
        """Count ``amount`` against ``bucket``'s limit for this minute, or raise 429 with Retry-After."""
        windows = await self.take_all([(bucket, limit, amount, kind)])
        return windows[0] if windows else None

    async def take_all(self, takes: list[tuple[str, int | None, int, str]]) -> list[Window]:
        """Several limits in one atomic step (one Redis round trip): all count, or none does and the first
        full one answers 429. Takes with no limit are skipped."""
        takes = [t for t in takes if t[1] is not None]
        if not takes:
            return []
        window = int(time.time()) // WINDOW
        reset = (window + 1) * WINDOW - time.time()
        requests = [(f"rl:{bucket}:{kind}:{window}", amount, limit) for bucket, limit, amount, kind in takes]
        try:
            admitted, full, totals = await self._counters.add(requests)  # type: ignore[arg-type]
        except Exception as exc:  # redis.exceptions.* do not share a base with OSError
            if not isinstance(exc, OSError | TimeoutError) and not type(exc).__module__.startswith("redis"):
                raise
            self._unavailable(exc)
            return []
        if not admitted:
            bucket, limit, _, kind = takes[full]
            state = Window(kind, limit, limit - totals[0], reset)  # type: ignore[arg-type,operator]
            headers = {**state.headers(), "retry-after": str(max(1, int(reset + 0.999)))}
            raise RateLimited(
                f"Rate limit of {limit} {kind} per minute reached for this {bucket.split(':')[0]}", headers=headers
            )
        return [
            Window(kind, limit, limit - total, reset)  # type: ignore[arg-type,operator]
            for (_, limit, _, kind), total in zip(takes, totals, strict=True)
        ]

    async def give_back(self, bucket: str, amount: int, kind: str, window: int | None = None) -> None:
        """Correct a reservation once the real count is known (amount may be negative). Only the window the
        reservation was counted in is corrected: carried into the next one, a refund would raise its limit."""
        current = int(time.time()) // WINDOW
        if not amount or (window is not None and window != current):
            return
        try:
            await self._counters.add([(f"rl:{bucket}:{kind}:{current}", amount, 2**62)])
        except Exception:  # best effort: a correction lost to a Redis blip only tightens or loosens one window
            log.warning("rate limit correction lost for %s", bucket)

    def give_back_later(self, bucket: str, amount: int, kind: str, window: int | None = None) -> None:
        """``give_back`` without making the request wait for it."""
        if amount:
            task = asyncio.create_task(self.give_back(bucket, amount, kind, window))
            self._corrections.add(task)
            task.add_done_callback(self._corrections.discard)

    def _unavailable(self, exc: Exception) -> None:
        if self._fail_open:
            log.warning("rate limiter unreachable (%s): admitting (fail open)", type(exc).__name__)
            return None
        raise ServiceUnavailable("Rate limiting is unavailable; retry shortly", headers={"retry-after": "1"})

    async def aclose(self) -> None:
        if self._corrections:
            await asyncio.gather(*self._corrections, return_exceptions=True)
        await self._counters.aclose()


class KeyTokenBudget:
    """A key's tokens-per-minute window as the inference path's ``TokenBudget``."""

    def __init__(self, limiter: RateLimiter, bucket: str, limit: int, headers: dict[str, str]) -> None:
        self._limiter = limiter
        self._bucket = bucket
        self._limit = limit
        self._headers = headers
        self._reserved = 0
        self._window: int | None = None

    async def reserve(self, tokens: int) -> None:
        window = await self._limiter.take(self._bucket, self._limit, tokens, "tokens")
        if window is None:  # not counted (Redis down, failing open): nothing to true up later
            return
        self._reserved = tokens
        self._window = int(time.time()) // WINDOW
        self._headers.update(window.headers())

    async def commit(self, tokens: int) -> None:
        if self._window is not None:
            self._limiter.give_back_later(self._bucket, tokens - self._reserved, "tokens", self._window)
            self._reserved = tokens
