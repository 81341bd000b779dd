"""The ledger on SQLite and PostgreSQL: idempotent postings, funds checks, holds, and its invariants."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cluster.billing import BillingService
from cluster.billing.protocol import AdjustRequest
from cluster.db import make_engine, upgrade
from cluster.errors import InsufficientBalance
from cluster.settings import BillingSettings


@pytest.fixture
async def billing(database_url: str) -> AsyncIterator[BillingService]:
    engine = make_engine(database_url)
    await upgrade(engine)
    service = BillingService(engine, BillingSettings(heartbeat_interval=0.2, sweep_interval=60))
    await service.start()
    yield service
    await service.stop()
    await engine.dispose()


def adjust(user: str, amount: int, key: str) -> AdjustRequest:
    return AdjustRequest(user_id=user, amount=amount, idempotency_key=key)


async def test_credit_is_idempotent_and_debit_checks_funds(billing: BillingService) -> None:
    for _ in range(3):
        balance = await billing.credit(adjust("u1", 5_000_000, "deposit-1"))
    assert balance.available == 5_000_000
    await billing.debit(adjust("u1", 2_000_000, "withdraw-1"))
    with pytest.raises(InsufficientBalance):
        await billing.debit(adjust("u1", 3_000_001, "withdraw-2"))
    assert (await billing.balance("u1")).available == 3_000_000
    audit = await billing.audit()
    assert audit["sum"] == 0 and audit["mismatched_accounts"] == 0


async def test_hold_then_capture_charges_exactly_and_releases_the_rest(billing: BillingService) -> None:
    await billing.credit(adjust("u2", 1_000, "d"))
    await billing.hold("u2", "req-1", 700)
    assert (await billing.balance("u2")).model_dump(include={"available", "held"}) == {"available": 300, "held": 700}
    with pytest.raises(InsufficientBalance):
        await billing.hold("u2", "req-2", 301)
    assert await billing.capture("u2", "req-1", 700, 123) == 123
    assert await billing.capture("u2", "req-1", 700, 123) == 0, "a second capture of one hold does nothing"
    await billing.release("u2", "req-1", 700)  # and neither does a late release
    balance = await billing.balance("u2")
    assert (balance.available, balance.held) == (877, 0)
    assert (await billing.audit())["revenue"] == 123


async def test_concurrent_holds_never_overdraw(billing: BillingService) -> None:
    await billing.credit(adjust("u3", 10_000, "d"))

    async def attempt(i: int) -> bool:
        try:
            await billing.hold("u3", f"h{i}", 300)
        except InsufficientBalance:
            return False
        await billing.capture("u3", f"h{i}", 300, 250)
        return True

    results = await asyncio.gather(*(attempt(i) for i in range(60)))
    served = sum(results)
    balance = await billing.balance("u3")
    assert balance.held == 0 and balance.available == 10_000 - 250 * served >= 0
    assert served >= 33  # 10,000 / 300: at least this many fit even when holds overlap
    audit = await billing.audit()
    assert audit == {"sum": 0, "mismatched_accounts": 0, "revenue": 250 * served}


async def test_holds_of_a_dead_process_are_released(billing: BillingService, database_url: str) -> None:
    await billing.credit(adjust("u4", 1_000, "d"))
    engine = make_engine(database_url)
    other = BillingService(engine, BillingSettings(heartbeat_interval=0.2, sweep_interval=60))
    await other.start()
    await other.hold("u4", "orphan", 600)
    for task in other._tasks:  # the other process dies: no more heartbeats, no stop()
        task.cancel()
    await engine.dispose()
    assert await billing.sweep() == 0, "its heartbeat is still fresh"
    await asyncio.sleep(0.7)
    assert await billing.sweep() == 1
    balance = await billing.balance("u4")
    assert (balance.available, balance.held) == (1_000, 0)


async def test_expired_holds_are_released(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    await upgrade(engine)
    service = BillingService(engine, BillingSettings(hold_ttl=0.2, sweep_interval=60))
    await service.start()
    try:
        await service.credit(adjust("u5", 100, "d"))
        await service.hold("u5", "slow", 100)
        await asyncio.sleep(0.3)
        assert await service.sweep() == 1
        assert (await service.balance("u5")).available == 100
    finally:
        await service.stop()
        await engine.dispose()


async def test_postings_on_one_hold_queued_together_settle_it_once(billing: BillingService) -> None:
    await billing.credit(adjust("u6", 1_000, "d"))
    # Queued behind one another in the same lane: the hold, then both a capture and a release of it.
    results = await asyncio.gather(
        billing.credit(adjust("u6", 1, "busy")),
        billing.hold("u6", "h", 500),
        billing.capture("u6", "h", 500, 200),
        billing.release("u6", "h", 500),
    )
    assert results[2] == 200
    balance = await billing.balance("u6")
    assert (balance.available, balance.held) == (1_000 + 1 - 200, 0)
    assert (await billing.audit())["mismatched_accounts"] == 0

    await asyncio.gather(
        billing.credit(adjust("u6", 1, "busy-2")), billing.hold("u6", "h2", 300), billing.release("u6", "h2", 300)
    )
    balance = await billing.balance("u6")
    assert (balance.available, balance.held) == (802, 0), "a release queued right behind its hold applies"


async def test_a_lease_pays_many_requests_with_a_few_postings(billing: BillingService) -> None:
    await billing.credit(adjust("u7", 1_000_000, "d"))
    for _ in range(50):  # each request: reserve 300 in memory, settle at 120
        lease = await billing.leases.reserve("u7", 300)
        assert billing.leases.spend(lease, 300, 120) == 120
    balance = await billing.balance("u7")  # settles this process's lease first
    assert (balance.available, balance.held) == (1_000_000 - 50 * 120, 0)
    audit = await billing.audit()
    assert audit["sum"] == 0 and audit["mismatched_accounts"] == 0 and audit["revenue"] == 50 * 120
    async with billing._engine.connect() as connection:  # type: ignore[attr-defined]
        from sqlalchemy import func, select

        from cluster.billing.models import LedgerTransaction

        postings = (await connection.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
    assert postings <= 4, "credit, one lease, one capture of the spend, one release: not one per request"


async def test_a_lease_that_is_too_big_falls_back_to_what_is_needed(billing: BillingService) -> None:
    await billing.credit(adjust("u8", 500, "d"))  # less than one lease_size
    lease = await billing.leases.reserve("u8", 400)
    with pytest.raises(InsufficientBalance):
        await billing.leases.reserve("u8", 200)
    billing.leases.cancel(lease, 400)
    assert (await billing.balance("u8")).available == 500


async def test_leases_returned_while_requests_arrive_lose_nothing(billing: BillingService) -> None:
    await billing.credit(adjust("u9", 10_000_000, "d"))

    async def request() -> int:
        lease = await billing.leases.reserve("u9", 1_000)
        await asyncio.sleep(0)
        return billing.leases.spend(lease, 1_000, 700)

    charged = 0
    for _ in range(40):  # the lease is returned and renewed under a stream of requests
        results = await asyncio.gather(request(), billing.leases.flush("u9", release=True), request(), request())
        charged += sum(r for r in results if isinstance(r, int))
    balance = await billing.balance("u9")
    assert (balance.available, balance.held) == (10_000_000 - charged, 0)
    audit = await billing.audit()
    assert audit["sum"] == 0 and audit["mismatched_accounts"] == 0 and audit["revenue"] == charged == 40 * 3 * 700
