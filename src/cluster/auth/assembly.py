"""The auth domain, assembled: API keys (their last-used times written every few seconds and at stop) and the
rate limiter (Redis when configured, else in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.ratelimit import Counters, MemoryCounters, RateLimiter, RedisCounters
from cluster.auth.service import AuthService
from cluster.keyfile import load_or_create_secret
from cluster.periodic import running_every
from cluster.settings import Settings

LAST_USED_FLUSH = 5.0  # seconds between writes of keys' last-used times


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AuthService]:
    secret = (
        settings.auth.key_secret.get_secret_value().encode()
        if settings.auth.key_secret
        else load_or_create_secret(settings.data_dir / "key_secret")
    )
    auth = AuthService(engine, secret, settings.auth.cache_ttl)
    try:
        async with running_every(LAST_USED_FLUSH, auth.flush_last_used, "keys-last-used"):
            yield auth
    finally:
        await auth.flush_last_used()


@asynccontextmanager
async def limits(settings: Settings) -> AsyncIterator[RateLimiter]:
    counters: Counters = RedisCounters(settings.redis_url) if settings.redis_url else MemoryCounters()
    limiter = RateLimiter(counters, fail_open=settings.limits.fail_open)
    try:
        yield limiter
    finally:
        await limiter.aclose()
