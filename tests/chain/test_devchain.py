"""The embedded dev chain keeps its state across restarts, clean or not, and is shared by concurrent starters."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from cluster.chain.client import ChainClient
from cluster.chain.contracts import Contracts
from cluster.chain.devchain import DevChain, dev_address, dev_key
from cluster.settings import DevChainSettings
from tests.chain.conftest import free_port

CREATOR, BUYER = 2, 3
ZERO = "0x0000000000000000000000000000000000000000"


async def buy_something(devchain: DevChain, slug: str) -> int:
    deployment = await devchain.start()
    creator = Contracts(await ChainClient.connect(devchain.url, signer_key=dev_key(CREATOR)), deployment.addresses)
    buyer = Contracts(await ChainClient.connect(devchain.url, signer_key=dev_key(BUYER)), deployment.addresses)
    dataset_id, _ = await creator.registry.register(dev_address(CREATOR), slug, "bafy", 42)
    await buyer.usdc.approve(buyer.router.address, 42)
    await buyer.router.purchase(dataset_id, ZERO)
    await creator.client.close()
    await buyer.client.close()
    return dataset_id


async def has_access(devchain: DevChain, dataset_id: int) -> bool:
    deployment = await devchain.start()
    client = await ChainClient.connect(devchain.url)
    try:
        return await Contracts(client, deployment.addresses).router.has_access(dev_address(BUYER), dataset_id)
    finally:
        await client.close()


async def test_a_purchase_survives_a_clean_restart(tmp_path: Path) -> None:
    devchain = DevChain(tmp_path, DevChainSettings(port=free_port()))
    dataset_id = await buy_something(devchain, "yesterday")
    first = (tmp_path / "chain" / "deployment.json").read_text()
    devchain.stop()
    assert devchain.state_file.is_file()

    again = DevChain(tmp_path, DevChainSettings(port=free_port()))  # even on another port
    try:
        assert await has_access(again, dataset_id)
        assert (tmp_path / "chain" / "deployment.json").read_text() == first, "no second deployment"
    finally:
        again.stop()


async def test_a_purchase_survives_kill_9_after_the_state_interval(tmp_path: Path) -> None:
    devchain = DevChain(tmp_path, DevChainSettings(port=free_port(), state_interval=1))
    dataset_id = await buy_something(devchain, "crashy")
    await asyncio.sleep(2.2)  # one periodic state dump
    assert devchain.process is not None
    devchain.process.send_signal(signal.SIGKILL)
    devchain.process.wait()
    devchain.process = None

    again = DevChain(tmp_path, DevChainSettings(port=free_port()))
    try:
        assert await has_access(again, dataset_id)
    finally:
        again.stop()


async def test_concurrent_starts_share_one_node_and_one_deployment(tmp_path: Path) -> None:
    port = free_port()
    chains = [DevChain(tmp_path, DevChainSettings(port=port)) for _ in range(3)]
    deployments = await asyncio.gather(*(chain.start() for chain in chains))
    try:
        assert len({d.model_dump_json() for d in deployments}) == 1
        assert sum(chain.process is not None for chain in chains) == 1
    finally:
        for chain in chains:
            chain.stop()
