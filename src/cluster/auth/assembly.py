"""The auth domain, assembled: API keys (their last-used times written every few seconds and at stop) and the
rate limiter (Redis when configured, else in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.identities import Identities
from cluster.auth.mail import mailer_for
from cluster.auth.ratelimit import Counters, MemoryCounters, RateLimiter, RedisCounters
from cluster.auth.service import AuthService
from cluster.auth.sessions import WebSessions
from cluster.auth.signin import SignIn
from cluster.keyfile import load_or_create_secret
from cluster.periodic import running_every
from cluster.settings import Settings

LAST_USED_FLUSH = 5.0  # seconds between writes of keys' last-used times
NONCE_SWEEP = 3600.0  # seconds between sweeps of spent sign-in nonces


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AuthService]:
    secret = _secret(settings)
    sessions = WebSessions(engine, secret, settings.hub.session_ttl, settings.auth.cache_ttl)
    auth = AuthService(engine, secret, settings.auth.cache_ttl, sessions)
    try:
        async with running_every(LAST_USED_FLUSH, auth.flush_last_used, "keys-last-used"):
            yield auth
    finally:
        await auth.flush_last_used()


@asynccontextmanager
async def signin(
    settings: Settings, engine: AsyncEngine, auth: AuthService, chain_id: int | None, rpc_url: str | None
) -> AsyncIterator[SignIn]:
    """Sign-in without a key (SIWE, email links), on the chain the service uses (its RPC checks smart wallets)."""
    hub = settings.hub
    flows = SignIn(
        engine,
        Identities(engine),
        auth.sessions,
        mailer_for(hub, engine),
        hub,
        _secret(settings),
        hub.siwe_chain_id or chain_id or 1,
        rpc_url,
    )
    async with running_every(NONCE_SWEEP, flows.sweep, "sign-in-nonces"):
        yield flows


def _secret(settings: Settings) -> bytes:
    if settings.auth.key_secret:
        return settings.auth.key_secret.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / "key_secret")


@asynccontextmanager
async def limits(settings: Settings) -> AsyncIterator[RateLimiter]:
    counters: Counters = RedisCounters(settings.redis_url) if settings.redis_url else MemoryCounters()
    limiter = RateLimiter(counters, fail_open=settings.limits.fail_open)
    try:
        yield limiter
    finally:
        await limiter.aclose()
