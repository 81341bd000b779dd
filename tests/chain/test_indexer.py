"""The indexer on a real node and both databases: deposits credited exactly once through crashes, re-reads,
confirmation depth and re-orgs; purchases recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.chain.deposits import DepositBook
from cluster.chain.indexer import Indexer
from cluster.chain.models import ChainCursor, ChainDeposit, ChainPurchase
from cluster.db import make_engine, upgrade
from cluster.metering.metrics import Metrics
from cluster.settings import BillingSettings
from tests.chain_fixtures import Chain

DEPOSITOR, CREATOR, BUYER = 6, 2, 3
ZERO = "0x0000000000000000000000000000000000000000"


@dataclass
class Ledger:
    engine: AsyncEngine
    billing: BillingService

    async def available(self, user_id: str) -> int:
        return (await self.billing.balance(user_id)).available

    async def deposits(self) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(select(ChainDeposit))).all())


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Ledger]:
    engine = make_engine(database_url)
    await upgrade(engine)
    billing = BillingService(engine, BillingSettings(sweep_interval=60))
    await billing.start()
    yield Ledger(engine, billing)
    await billing.stop()
    await engine.dispose()


async def indexer(chain: Chain, ledger: Ledger, confirmations: int = 0, eth_price: int | None = None) -> Indexer:
    client = await chain.client(0)
    book = DepositBook(ledger.engine, ledger.billing, usdc=chain.addresses.usdc, eth_price=eth_price)
    return Indexer(ledger.engine, client, chain.addresses, book, confirmations=confirmations)


async def deposit_usdc(chain: Chain, ref: str, amount: int) -> None:
    depositor = await chain.contracts(DEPOSITOR)
    await depositor.usdc.approve(depositor.deposits.address, amount)
    await depositor.deposits.deposit(bytes.fromhex(ref[2:]), amount)


async def test_a_deposit_is_credited_once_through_crashes_and_rereads(chain: Chain, ledger: Ledger) -> None:
    first = await indexer(chain, ledger)
    ref = await first._deposits.reference_for("alice")
    await deposit_usdc(chain, ref, 5_000_000)

    # Crash mid-block: the events were written but the cursor was not: the whole batch rolls back.
    async def crash(*_: Any) -> None:
        raise RuntimeError("power cut")

    first._advance = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await first.run_once()
    assert await ledger.deposits() == []

    # Crash between the credit and marking the deposit credited.
    second = await indexer(chain, ledger)
    second._deposits._mark = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await second.run_once()
    assert await ledger.available("alice") == 5_000_000
    assert [row.status for row in await ledger.deposits()] == ["pending"]

    # Restart: the pending deposit is credited again, which the idempotency key makes a no-op.
    third = await indexer(chain, ledger)
    await third.run_once()
    assert await ledger.available("alice") == 5_000_000
    assert [(row.status, row.credited) for row in await ledger.deposits()] == [("credited", 5_000_000)]

    # Read everything again from the start: nothing changes.
    async with ledger.engine.begin() as connection:
        await connection.execute(delete(ChainCursor))
    await (await indexer(chain, ledger)).run_once()
    assert await ledger.available("alice") == 5_000_000
    assert len(await ledger.deposits()) == 1
    assert (await ledger.billing.audit())["sum"] == 0


async def test_a_deposit_before_the_user_has_a_reference_waits_for_it(chain: Chain, ledger: Ledger) -> None:
    index = await indexer(chain, ledger)
    from cluster.chain.deposits import deposit_ref

    await deposit_usdc(chain, deposit_ref("bob"), 700)
    await index.run_once()
    assert [row.status for row in await ledger.deposits()] == ["unmatched"]
    await index._deposits.reference_for("bob")
    await index.run_once()
    assert await ledger.available("bob") == 700


async def test_deposits_wait_for_their_confirmations(chain: Chain, ledger: Ledger) -> None:
    index = await indexer(chain, ledger, confirmations=3)
    ref = await index._deposits.reference_for("carol")
    await deposit_usdc(chain, ref, 1_000)
    await index.run_once()
    assert await ledger.available("carol") == 0
    await chain.mine(2)
    await index.run_once()
    assert await ledger.available("carol") == 0
    await chain.mine(1)
    await index.run_once()
    assert await ledger.available("carol") == 1_000
    # the lag an operator watches: the head is `confirmations` blocks past what is indexed
    metrics = Metrics()
    metrics.live(index.gauges)
    text = metrics.exposition().decode()
    chain_id = (await chain.client(0)).chain_id
    assert f'cluster_chain_indexer_lag_blocks{{chain_id="{chain_id}"}} 3.0' in text
    assert "cluster_chain_indexer_last_pass_timestamp_seconds" in text


async def test_eth_deposits_are_credited_at_the_configured_price(chain: Chain, ledger: Ledger) -> None:
    priced = await indexer(chain, ledger, eth_price=3_000_000_000)  # 3,000 USDC per ETH
    ref = await priced._deposits.reference_for("dave")
    depositor = await chain.contracts(DEPOSITOR)
    await depositor.deposits.deposit_eth(bytes.fromhex(ref[2:]), 10**18 // 2)
    await priced.run_once()
    assert await ledger.available("dave") == 1_500_000_000


async def test_eth_deposits_without_a_price_are_kept_not_credited(chain: Chain, ledger: Ledger) -> None:
    unpriced = await indexer(chain, ledger)
    ref = await unpriced._deposits.reference_for("erin")
    await (await chain.contracts(DEPOSITOR)).deposits.deposit_eth(bytes.fromhex(ref[2:]), 10**15)
    await unpriced.run_once()
    assert await ledger.available("erin") == 0
    assert [(row.status, row.amount) for row in await ledger.deposits()] == [("unpriced", str(10**15))]


async def test_a_reorged_deposit_is_taken_back(chain: Chain, ledger: Ledger) -> None:
    index = await indexer(chain, ledger)
    ref = await index._deposits.reference_for("frank")
    await index.run_once()
    fork_point = await chain.rpc("evm_snapshot")
    await deposit_usdc(chain, ref, 9_000)
    await index.run_once()
    assert await ledger.available("frank") == 9_000

    # The blocks holding the deposit are replaced by a longer chain without it.
    assert await chain.rpc("evm_revert", fork_point)
    await chain.mine(5)
    await index.run_once()  # notices the cursor's block is gone and steps back
    await index.run_once()  # re-reads the new blocks; the deposit is not there: reversed
    assert await ledger.available("frank") == 0
    assert [row.status for row in await ledger.deposits()] == ["reversed"]
    await index.run_once()
    assert await ledger.available("frank") == 0, "reversed once"
    assert (await ledger.billing.audit())["sum"] == 0


async def test_purchases_are_recorded_with_their_split(chain: Chain, ledger: Ledger) -> None:
    creator = await chain.contracts(CREATOR)
    dataset_id, _ = await creator.registry.register(chain.address(CREATOR), "indexed-data", "bafy", 10**6 + 1)
    buyer = await chain.contracts(BUYER)
    await buyer.usdc.approve(buyer.router.address, 10**6 + 1)
    await buyer.router.purchase(dataset_id, chain.address(DEPOSITOR))
    index = await indexer(chain, ledger)
    stored = await index.run_once()
    assert stored >= 3  # Transfer (mint), DatasetRegistered, Purchased, …
    async with ledger.engine.connect() as connection:
        rows = (await connection.execute(select(ChainPurchase))).all()
        assert (await connection.execute(select(func.count()).select_from(ChainPurchase))).scalar() == 1
    (row,) = rows
    assert (row.dataset_id, row.buyer, row.price) == (dataset_id, chain.address(BUYER), 10**6 + 1)
    assert (row.creator_amount, row.treasury_amount, row.referrer_amount) == (850_001, 100_000, 50_000)
