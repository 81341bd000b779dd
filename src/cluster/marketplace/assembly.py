"""The marketplace domain, assembled. It lives on chain (NFTs, registry, purchases), so with the chain off it is
off: nothing is built and its endpoints answer ``feature_disabled``.

Royalties come later in the order than the marketplace itself: they are owed on models derived from datasets,
and the fine-tuned ones are only known once fine-tuning is up (``derived``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.chain.service import ChainService
from cluster.marketplace.royalties import Royalties
from cluster.marketplace.service import Marketplace
from cluster.marketplace.wallets import Wallets
from cluster.periodic import running_every
from cluster.settings import Lineage, Settings
from cluster.storage.assembly import Storage


@asynccontextmanager
async def running(
    settings: Settings, engine: AsyncEngine, storage: Storage, chain: ChainService | None
) -> AsyncIterator[Marketplace | None]:
    yield Marketplace(engine, settings.storage, storage, Wallets(engine), chain) if chain is not None else None


@asynccontextmanager
async def royalties(
    settings: Settings,
    engine: AsyncEngine,
    chain: ChainService | None,
    derived: Callable[[], Awaitable[dict[str, Lineage]]],
) -> AsyncIterator[Royalties | None]:
    """Royalties on configured derived models and on ``derived()`` ones, paid out every
    ``finetune.royalty_payout_interval`` seconds (None: on request only)."""
    if chain is None:
        yield None
        return
    lineage = {model.id: model.lineage for model in settings.models if model.lineage is not None}
    async with AsyncExitStack() as stack:
        royalties = Royalties(engine, chain, lineage, derived)
        stack.push_async_callback(royalties.aclose)
        interval = settings.finetune.royalty_payout_interval
        if interval is not None:
            await stack.enter_async_context(running_every(interval, royalties.payout, "royalty-payouts"))
        yield royalties
