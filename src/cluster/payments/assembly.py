"""The payments domain, assembled: x402 when it is on and the chain it settles on is up, else nothing (its
endpoints answer ``feature_disabled``; requests with no key then need one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.chain.service import ChainService
from cluster.metering.metrics import Metrics
from cluster.payments.service import X402Service
from cluster.settings import Settings


@asynccontextmanager
async def running(
    settings: Settings,
    engine: AsyncEngine,
    billing: BillingService,
    chain: ChainService | None,
    metrics: Metrics | None = None,
) -> AsyncIterator[X402Service | None]:
    if chain is None or not settings.x402.enabled:
        yield None
        return
    async with X402Service.running(settings.x402, engine, billing, chain, metrics) as x402:
        yield x402
