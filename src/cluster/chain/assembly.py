"""The chain domain, assembled: nothing when ``chain.enabled`` is false (its endpoints answer
``feature_disabled``, and the domains that need it are off too), else the running ``ChainService``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.chain.service import ChainService
from cluster.metering.metrics import Metrics
from cluster.settings import Settings


@asynccontextmanager
async def running(
    settings: Settings, engine: AsyncEngine, billing: BillingService, metrics: Metrics
) -> AsyncIterator[ChainService | None]:
    if not settings.chain.enabled:
        yield None
        return
    async with ChainService.running(settings, engine, billing) as chain:
        metrics.live(chain.indexer.gauges)
        yield chain
