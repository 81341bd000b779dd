"""``/v1/chain/*`` and the SDK's ``client.chain`` against the session's anvil, with keys required."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cluster_sdk import AsyncCluster, NotFoundError
from tests.chain_fixtures import Chain
from tests.conftest import Secured, make_settings, secured_app

CREATOR, BUYER, DEPOSITOR = 2, 3, 6
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
async def app(tmp_path: Path, chain: Chain) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        chain=chain.settings(signer=False),
    )
    async for secured in secured_app(settings):
        yield secured


def sdk(app: Secured, key: str) -> AsyncCluster:
    return AsyncCluster(base_url="http://cluster", api_key=key, http_client=app.http)


async def eventually(check, within: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_info_names_the_chain_and_contracts(app: Secured, chain: Chain) -> None:
    info = await sdk(app, app.admin_key).chain.info()
    assert (info.chain_id, info.network, info.embedded) == (31337, "eip155:31337", False)
    assert info.contracts["payment_router"] == chain.addresses.payment_router
    assert info.signer is None, "no signer configured: read-only"
    raw = await app.http.get("/v1/chain/info")
    assert raw.status_code == 200, "chain info is public"


async def test_a_dataset_by_id_and_slug_with_its_purchases(app: Secured, chain: Chain) -> None:
    creator = await chain.contracts(CREATOR)
    dataset_id, _ = await creator.registry.register(chain.address(CREATOR), "api-data", "bafy-meta", 3_000_000)
    buyer = await chain.contracts(BUYER)
    await buyer.usdc.approve(buyer.router.address, 3_000_000)
    await buyer.router.purchase(dataset_id, ZERO)
    client = sdk(app, app.admin_key)

    async def indexed():  # type: ignore[no-untyped-def]
        dataset = await client.chain.dataset("api-data")
        return dataset if dataset.recent_purchases else None

    dataset = await eventually(indexed)
    assert dataset.dataset_id == dataset_id
    assert (dataset.holder, dataset.price, dataset.purchases) == (chain.address(CREATOR), 3_000_000, 1)
    assert dataset.token_uri == "ipfs://bafy-meta"
    (purchase,) = dataset.recent_purchases
    assert (purchase.creator_amount, purchase.treasury_amount, purchase.referrer_amount) == (2_550_000, 450_000, 0)
    assert (await client.chain.dataset(dataset_id)).slug == "api-data"

    with pytest.raises(NotFoundError):
        await client.chain.dataset("no-such-data")
    missing = await app.http.get("/v1/chain/datasets/4242")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"


async def test_a_deposit_on_chain_tops_up_the_balance_once(app: Secured, chain: Chain) -> None:
    user_id, key = await app.new_user()
    client = sdk(app, key)
    instructions = await client.chain.deposits()
    assert instructions.contract == chain.addresses.deposits and instructions.data == []

    depositor = await chain.contracts(DEPOSITOR)
    await depositor.usdc.approve(depositor.deposits.address, 2_500_000)
    await depositor.deposits.deposit(bytes.fromhex(instructions.reference[2:]), 2_500_000)

    async def credited():  # type: ignore[no-untyped-def]
        return (await client.balance.retrieve()).available == 2_500_000

    assert await eventually(credited)
    (deposit,) = (await client.chain.deposits()).data
    assert (deposit.status, deposit.credited, deposit.sender) == ("credited", 2_500_000, chain.address(DEPOSITOR))
    _, other_key = await app.new_user()
    refused = await app.http.get(f"/v1/chain/deposits?user_id={user_id}", headers=app.auth(other_key))
    assert refused.status_code == 403


async def test_the_chain_api_says_when_the_chain_is_off(tmp_path: Path) -> None:
    async for secured in secured_app(make_settings(tmp_path, auth={"required": True})):
        response = await secured.http.get("/v1/chain/info")
        assert response.status_code == 404
        assert "disabled" in response.json()["error"]["message"]
