"""Per-key and per-IP rate limits in fixed one-minute windows.

Two stores behind one protocol: ``RedisCounters`` (an atomic Lua check-and-add, exact across every gateway
process sharing the Redis) and ``MemoryCounters`` (this process only, when no Redis is configured). A window
admits an amount only if it still fits under the limit, so N requests per minute means exactly N.
When Redis cannot be reached the configured policy applies: admit (fail open) or refuse with 503.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from cluster.errors import RateLimited, ServiceUnavailable

log = logging.getLogger(__name__)
WINDOW = 60

_CHECK_AND_ADD = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if amount > 0 and current + amount > tonumber(ARGV[2]) then
  return {0, current}
end
current = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, current}
"""


class Counters(Protocol):
    async def add(self, key: str, amount: int, limit: int) -> tuple[bool, int]:
        """Add ``amount`` to ``key`` if the total stays within ``limit`` (a negative amount always applies).
        Returns (admitted, total after)."""
        ...

    async def aclose(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window = -1

    async def add(self, key: str, amount: int, limit: int) -> tuple[bool, int]:
        window = int(time.time()) // WINDOW
        if window != self._window:  # keys carry their window, so the old ones can all go
            self._counts.clear()
            self._window = window
        current = self._counts.get(key, 0)
        if amount > 0 and current + amount > limit:
            return False, current
        self._counts[key] = current + amount
        return True, current + amount

    async def aclose(self) -> None:
        pass


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_CHECK_AND_ADD)

    async def add(self, key: str, amount: int, limit: int) -> tuple[bool, int]:
        admitted, total = await self._script(keys=[key], args=[amount, limit, WINDOW * 2])
        return bool(admitted), int(total)

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

    async def take(self, bucket: str, limit: int | None, amount: int, kind: str) -> Window | None:
        """Count ``amount`` against ``bucket``'s limit for this minute, or raise 429 with Retry-After."""
        if limit is None:
            return None
        window = int(time.time()) // WINDOW
        reset = (window + 1) * WINDOW - time.time()
        try:
            admitted, total = await self._counters.add(f"rl:{bucket}:{kind}:{window}", amount, limit)
        except Exception as exc:  # redis.exceptions.* do not share a base with OSError
            if not isinstance(exc, OSError | TimeoutError) and not type(exc).__module__.startswith("redis"):
                raise
            self._unavailable(exc)
            return None
        state = Window(kind, limit, limit - total, reset)
        if not admitted:
            headers = {**state.headers(), "retry-after": str(max(1, int(reset + 0.999)))}
            raise RateLimited(
                f"Rate limit of {limit} {kind} per minute reached for this {bucket.split(':')[0]}", headers=headers
            )
        return state

    async def give_back(self, bucket: str, amount: int, kind: str) -> None:
        """Correct a token estimate once the real count is known (amount may be negative)."""
        if amount:
            window = int(time.time()) // WINDOW
            try:
                await self._counters.add(f"rl:{bucket}:{kind}:{window}", amount, 2**62)
            except Exception:  # best effort: a correction lost to a Redis blip only loosens the limit
                log.warning("rate limit correction lost for %s", bucket)

    def _unavailable(self, exc: Exception) -> None:
        if self._fail_open:
            log.warning("rate limiter unreachable (%s): admitting (fail open)", type(exc).__name__)
            return None
        raise ServiceUnavailable("Rate limiting is unavailable; retry shortly", headers={"retry-after": "1"})

    async def aclose(self) -> None:
        await self._counters.aclose()


class KeyTokenBudget:
    """A key's tokens-per-minute window as the inference path's ``TokenBudget``."""

    def __init__(self, limiter: RateLimiter, bucket: str, limit: int, headers: dict[str, str]) -> None:
        self._limiter = limiter
        self._bucket = bucket
        self._limit = limit
        self._headers = headers
        self._reserved = 0

    async def reserve(self, tokens: int) -> None:
        window = await self._limiter.take(self._bucket, self._limit, tokens, "tokens")
        self._reserved = tokens
        if window is not None:
            self._headers.update(window.headers())

    async def commit(self, tokens: int) -> None:
        await self._limiter.give_back(self._bucket, tokens - self._reserved, "tokens")
        self._reserved = tokens
