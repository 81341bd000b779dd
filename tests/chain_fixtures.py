"""Chain fixtures: one anvil for the session (deployed once); each test runs inside an EVM snapshot and is rolled
back after. Registered for all tests by ``tests/conftest.py``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cluster.chain.client import ChainClient
from cluster.chain.contracts import Contracts
from cluster.chain.deployment import Deployment
from cluster.chain.devchain import DevChain, dev_address, dev_key
from cluster.settings import DevChainSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    url: str
    deployment: Deployment
    devchain: DevChain


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    devchain = DevChain(tmp_path_factory.mktemp("anvil"), DevChainSettings(port=free_port(), state_interval=3600))
    deployment = asyncio.run(devchain.start())
    yield Node(devchain.url, deployment, devchain)
    devchain.stop()


async def rpc(url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        reply = await response.json()
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["result"]


@dataclass
class Chain:
    """The session chain as seen by one test: clients per dev account, raw RPC, time travel."""

    node: Node
    _clients: dict[int, ChainClient] = field(default_factory=dict)

    @property
    def addresses(self) -> Any:
        return self.node.deployment.addresses

    @property
    def chain_id(self) -> int:
        return self.node.deployment.chain_id

    async def client(self, account: int = 0) -> ChainClient:
        if account not in self._clients:
            self._clients[account] = await ChainClient.connect(self.node.url, signer_key=dev_key(account))
        return self._clients[account]

    async def contracts(self, account: int = 0) -> Contracts:
        return Contracts(await self.client(account), self.addresses)

    def address(self, account: int) -> str:
        return dev_address(account)

    def key(self, account: int) -> str:
        return dev_key(account)

    async def rpc(self, method: str, *params: Any) -> Any:
        return await rpc(self.node.url, method, *params)

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def now(self) -> int:
        block = await (await self.client()).w3.eth.get_block("latest")
        return int(block["timestamp"])

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    def settings(self, *, signer: bool = True) -> dict[str, Any]:
        """``chain`` settings for an app on this node: confirmations 0 (a configured node defaults to 3, and
        anvil mines only on demand), a fast indexer, and the service signing as dev account #0."""
        config: dict[str, Any] = {
            "rpc_url": self.node.url,
            "chain_id": self.chain_id,
            "addresses": self.addresses.model_dump(),
            "confirmations": 0,
            "poll_interval": 0.05,
        }
        if signer:
            config["signer_key"] = dev_key(0)
        return config


@pytest.fixture
async def chain(anvil: Node) -> AsyncIterator[Chain]:
    snapshot = await rpc(anvil.url, "evm_snapshot")
    view = Chain(anvil)
    try:
        yield view
    finally:
        await view.close()
        assert await rpc(anvil.url, "evm_revert", snapshot)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
