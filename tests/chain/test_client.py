"""The chain client: concurrent sends from one signer, reverts with reasons, an unreachable or wrong node."""

from __future__ import annotations

import asyncio

import pytest

from cluster.chain.client import ChainClient
from cluster.errors import ChainUnavailable, ClusterError, TransactionReverted
from tests.chain_fixtures import Chain, free_port


async def test_concurrent_sends_from_one_signer_get_distinct_nonces(chain: Chain) -> None:
    contracts = await chain.contracts(2)
    receipts = await asyncio.gather(*(contracts.usdc.transfer(chain.address(3), 1) for _ in range(25)))
    assert len({r.tx_hash for r in receipts}) == 25
    nonces = [(await contracts.client.w3.eth.get_transaction(r.tx_hash))["nonce"] for r in receipts]
    assert sorted(nonces) == list(range(min(nonces), min(nonces) + 25))


async def test_a_failed_send_resyncs_the_nonce(chain: Chain) -> None:
    contracts = await chain.contracts(2)
    await contracts.usdc.transfer(chain.address(3), 1)
    assert contracts.client.signer is not None
    contracts.client.signer._next_nonce = 0  # behind: another process sent with the same key
    await contracts.usdc.transfer(chain.address(3), 1)  # "nonce too low": re-read from the node, sent again


async def test_reverts_carry_the_contracts_reason_before_anything_is_sent(chain: Chain) -> None:
    contracts = await chain.contracts(2)
    client = contracts.client
    before = await client.w3.eth.get_transaction_count(chain.address(2))
    with pytest.raises(TransactionReverted, match="ERC20: transfer amount exceeds balance") as caught:
        await contracts.usdc.transfer(chain.address(3), 10**30)
    assert caught.value.status == 400 and caught.value.code == "transaction_reverted"
    assert await client.w3.eth.get_transaction_count(chain.address(2)) == before


async def test_an_unreachable_node_is_chain_unavailable() -> None:
    with pytest.raises(ChainUnavailable):
        await ChainClient.connect(f"http://127.0.0.1:{free_port()}")


async def test_a_node_on_another_chain_is_refused(chain: Chain) -> None:
    with pytest.raises(ClusterError, match="configured for 8453"):
        await ChainClient.connect(chain.node.url, expected_chain_id=8453)
