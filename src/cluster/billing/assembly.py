"""The billing domain, assembled: the ledger's accounts, this process's heartbeat, the sweeper of abandoned
holds and the flusher of leased spend; at stop, unused leases go back to their balances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing.service import BillingService
from cluster.settings import Settings


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[BillingService]:
    billing = BillingService(engine, settings.billing)
    try:
        await billing.start()  # a start that fails half-way is undone too (stop is safe on any part of it)
        yield billing
    finally:
        await billing.stop()
