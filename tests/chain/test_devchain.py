"""The embedded dev chain keeps its state across restarts, clean or not, and is shared by concurrent starters."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from cluster.chain.client import ChainClient
from cluster.chain.contracts import Contracts
from cluster.chain.devchain import DevChain, dev_address, dev_key
from cluster.settings import DevChainSettings
from tests.chain_fixtures import free_port

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


async def test_the_app_starts_and_stops_its_own_dev_chain(tmp_path: Path) -> None:
    """What `make run` does: no chain configured, so the service runs anvil itself and deploys to it."""
    import httpx

    from cluster.app import create_app
    from tests.conftest import make_settings

    port = free_port()
    settings = make_settings(tmp_path, chain={"enabled": True, "dev": {"port": port}})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
            info = (await http.get("/v1/chain/info")).json()
    assert (info["chain_id"], info["embedded"], info["confirmations"]) == (31337, True, 0)
    assert info["signer"] == dev_address(0)
    assert (tmp_path / "chain" / "anvil-state.json").is_file(), "stopped cleanly, state saved"
    assert not await DevChain(tmp_path, DevChainSettings(port=port))._answers(), "its node stopped with it"


def test_chain_cli_deploys_to_a_node_and_reports_status(tmp_path: Path, anvil, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from cluster.cli import app

    monkeypatch.setenv("CLUSTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DEPLOYER", dev_key(7))
    runner = CliRunner()
    out = tmp_path / "deployment.json"
    result = runner.invoke(app, ["chain", "deploy", "--rpc", anvil.url, "--key-env", "DEPLOYER", "--out", str(out)])
    assert result.exit_code == 0, result.output
    deployment = json.loads(out.read_text())
    assert deployment["deployer"] == dev_address(7) and deployment["addresses"]["treasury"] == dev_address(7)
    monkeypatch.setenv("CLUSTER_CHAIN__RPC_URL", anvil.url)
    monkeypatch.setenv("CLUSTER_CHAIN__ADDRESSES", json.dumps(deployment["addresses"]))
    status = runner.invoke(app, ["chain", "status"])
    assert status.exit_code == 0, status.output
    assert "chain 31337" in status.output and deployment["addresses"]["payment_router"] in status.output
