"""A model derived from a dataset pays the dataset's holder a share of every billed call, on chain, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from cluster.chain.devchain import dev_address
from cluster.marketplace.models import RoyaltyCall, RoyaltyPayout
from cluster.metering.models import RequestLog
from tests.chain_fixtures import Chain
from tests.conftest import mock_provider, secured_app
from tests.marketplace.conftest import Market, market_settings
from tests.marketplace.test_datasets import CREATOR, ROWS
from tests.support import MockUpstream

DERIVED = "ft-weather"


def royalty_settings(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream, **extra: object) -> object:
    return market_settings(
        tmp_path,
        chain,
        **extra,
        providers=[mock_provider("up", mock_upstream, models={DERIVED: "mock", "mock-model": "mock"})],
        models=[
            {"id": DERIVED, "input_price": 3_000_000, "output_price": 7_000_000,
             "lineage": {"dataset": "weather-2026", "base": "mock-model", "job": "ftjob-1"}},
            {"id": "mock-model", "input_price": 3_000_000, "output_price": 7_000_000},
        ],
    )  # fmt: skip


@pytest.fixture
async def market(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream) -> AsyncIterator[Market]:
    async for app in secured_app(royalty_settings(tmp_path, chain, mock_upstream)):  # type: ignore[arg-type]
        yield Market(app, chain)


@pytest.fixture
async def pg_market(
    tmp_path: Path, chain: Chain, mock_upstream: MockUpstream, postgres_url: str
) -> AsyncIterator[Market]:
    settings = royalty_settings(tmp_path, chain, mock_upstream, database_url=postgres_url)
    async for app in secured_app(settings):  # type: ignore[arg-type]
        yield Market(app, chain)


async def calls(market: Market, key: str, model: str, n: int) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "forecast"}]}
    for _ in range(n):
        response = await market.app.http.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text


async def logged(market: Market, model: str, count: int) -> list[int]:
    """The costs of ``model``'s calls once all ``count`` of them are in the request log."""
    engine = market.app.app.state.services.engine  # type: ignore[attr-defined]
    for _ in range(100):
        async with engine.connect() as connection:
            costs = [c for (c,) in await connection.execute(select(RequestLog.cost).where(RequestLog.model == model))]
        if len(costs) >= count:
            return costs
        await asyncio.sleep(0.05)
    raise AssertionError("the request log never flushed")


async def test_royalties_accrue_per_call_and_are_paid_to_the_holder_once(market: Market) -> None:
    creator = await market.user(CREATOR)
    assert (await market.upload(creator, ROWS)).status_code == 201
    _, key = await market.app.new_user(credit=50_000_000)
    http, admin = market.app.http, market.app.auth()
    card = (await http.get(f"/v1/models/{DERIVED}", headers=admin)).json()
    assert card["lineage"] == {
        "dataset": "weather-2026",
        "token_id": None,
        "base": "mock-model",
        "job": "ftjob-1",
        "royalty_bps": 1000,
    }

    await calls(market, key, DERIVED, 7)
    await calls(market, key, "mock-model", 3)  # not derived: owes nothing
    costs = await logged(market, DERIVED, 7)
    await asyncio.sleep(0.1)
    owed = sum(cost * 1000 // 10_000 for cost in costs)
    assert owed > 0 and len(costs) == 7

    contracts = await market.chain.contracts()
    before = await contracts.usdc.balance_of(dev_address(CREATOR))
    first = (await http.post("/v1/admin/royalties/payout", headers=admin)).json()["data"]
    assert [(p["dataset"], p["amount"], p["calls"]) for p in first] == [("weather-2026", owed, 7)]
    assert await contracts.usdc.balance_of(dev_address(CREATOR)) - before == owed
    assert (await http.post("/v1/admin/royalties/payout", headers=admin)).json()["data"] == [], "paid once"

    earnings = (await http.get("/v1/creators/me/earnings", headers=creator.auth())).json()
    assert earnings["total_royalties"] == owed and earnings["datasets"][0]["royalties"] == owed
    assert (
        await http.post("/v1/admin/royalties/payout", headers={"authorization": f"Bearer {key}"})
    ).status_code == 403


async def test_a_payout_a_crash_left_pending_is_released_and_paid_again(market: Market) -> None:
    creator = await market.user(CREATOR)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    _, key = await market.app.new_user(credit=50_000_000)
    await calls(market, key, DERIVED, 2)
    costs = await logged(market, DERIVED, 2)
    await asyncio.sleep(0.1)
    services = market.app.app.state.services  # type: ignore[attr-defined]
    async with services.engine.connect() as connection:
        ids = [r for (r,) in await connection.execute(select(RequestLog.id).where(RequestLog.model == DERIVED))]
    async with services.engine.begin() as connection:  # a payout that died before it sent anything
        await connection.execute(
            insert(RoyaltyPayout).values(
                id="roy_crashed", chain_id=31337, dataset_slug="weather-2026", token_id=token, holder="0x" + "00" * 20,
                amount=1, calls=len(ids), status="pending", created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        await connection.execute(
            insert(RoyaltyCall), [{"request_id": i, "payout_id": "roy_crashed", "amount": 0} for i in ids]
        )
    (payout,) = await services.royalties.payout()
    assert payout["amount"] == sum(c * 1000 // 10_000 for c in costs) and payout["calls"] == 2
    async with services.engine.connect() as connection:
        status = (
            await connection.execute(select(RoyaltyPayout.status).where(RoyaltyPayout.id == "roy_crashed"))
        ).scalar()
    assert status == "failed"


@pytest.mark.postgres
async def test_royalties_on_postgresql(pg_market: Market) -> None:
    await test_royalties_accrue_per_call_and_are_paid_to_the_holder_once(pg_market)
