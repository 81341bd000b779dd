"""The SDK pays by itself when given a wallet key, within its per-payment and total limits."""

from __future__ import annotations

import asyncio

import pytest

from cluster.chain.devchain import dev_address, dev_key
from cluster_sdk import AsyncCluster, Cluster, PaymentLimitError, PaymentRequiredError
from tests.payments.conftest import BODY, PAYER, Gateway

MESSAGES = BODY["messages"]


async def test_the_sync_client_pays_and_keeps_the_receipt(gateway: Gateway) -> None:
    price = int((await gateway.quote())["amount"])
    before = await (await gateway.chain.contracts()).usdc.balance_of(dev_address(PAYER))

    def run() -> Cluster:
        client = Cluster(gateway.url, wallet=dev_key(PAYER), max_payment=price, max_total=10 * price)
        reply = client.chat.completions.create(model="mock-model", messages=MESSAGES)
        assert reply.choices[0].message.content
        return client

    client = await asyncio.to_thread(run)
    assert client.wallet is not None and client.wallet.spent == price
    assert client.wallet.last_receipt is not None and client.wallet.last_receipt["success"]
    after = await (await gateway.chain.contracts()).usdc.balance_of(dev_address(PAYER))
    assert before - after == price


async def test_the_async_client_pays_for_a_stream(gateway: Gateway) -> None:
    async with AsyncCluster(gateway.url, wallet=dev_key(PAYER)) as client:
        chunks = [
            c async for c in await client.chat.completions.create(model="mock-model", messages=MESSAGES, stream=True)
        ]
        assert chunks and client.wallet is not None and client.wallet.spent > 0


async def test_limits_refuse_before_anything_is_signed(gateway: Gateway) -> None:
    price = int((await gateway.quote())["amount"])
    async with AsyncCluster(gateway.url, wallet=dev_key(PAYER), max_payment=price - 1) as client:
        with pytest.raises(PaymentLimitError, match="over max_payment"):
            await client.chat.completions.create(model="mock-model", messages=MESSAGES)
        assert client.wallet is not None and client.wallet.spent == 0
    async with AsyncCluster(gateway.url, wallet=dev_key(PAYER), max_total=price) as client:
        await client.chat.completions.create(model="mock-model", messages=MESSAGES)
        with pytest.raises(PaymentLimitError, match="max_total"):
            await client.chat.completions.create(model="mock-model", messages=MESSAGES)
    assert len(await gateway_payments(gateway)) == 1


async def test_without_a_wallet_the_402_is_a_typed_error(gateway: Gateway) -> None:
    async with AsyncCluster(gateway.url) as client:
        with pytest.raises(PaymentRequiredError) as caught:
            await client.chat.completions.create(model="mock-model", messages=MESSAGES)
    assert caught.value.status_code == 402 and caught.value.body["x402Version"] == 1


async def gateway_payments(gateway: Gateway) -> list[object]:
    from tests.payments.test_x402 import payments

    return list(await payments(gateway))
