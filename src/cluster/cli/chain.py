"""``cluster chain up|status|deploy|compile``: the dev chain and deployments by hand."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from cluster.settings import ContractAddresses, Settings

chain_app = typer.Typer(no_args_is_help=True, help="Contracts, the embedded dev chain and deployments.")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="cluster.toml to read")]


@chain_app.command("up")
def up(config: ConfigOption = None) -> None:
    """Run the embedded dev chain in the foreground (deploying the contracts on first start) until Ctrl-C."""
    from cluster.chain.devchain import DevChain

    settings = Settings.load(config)
    devchain = DevChain(settings.data_dir, settings.chain.dev)
    deployment = asyncio.run(devchain.start())
    typer.echo(f"dev chain {deployment.chain_id} on {devchain.url} (state: {devchain.state_file})")
    typer.echo(deployment.addresses.model_dump_json(indent=1))
    if devchain.process is None:
        typer.echo("(already running elsewhere; leaving it be)")
        return
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        devchain.stop()


def target(settings: Settings) -> tuple[str, ContractAddresses | None]:
    """The configured chain's RPC and contracts, or the embedded dev chain's (its deployment file)."""
    from cluster.chain.deployment import Deployment
    from cluster.chain.devchain import DevChain

    chain = settings.chain
    devchain = DevChain(settings.data_dir, chain.dev)
    addresses = chain.addresses
    if addresses is None and (deployment := Deployment.read(devchain.deployment_file)):
        addresses = deployment.addresses
    return chain.rpc_url or devchain.url, addresses


@chain_app.command("status")
def status(config: ConfigOption = None) -> None:
    """Chain id, head block and contract addresses of the configured chain (or the dev chain)."""
    from cluster.chain.client import ChainClient

    url, addresses = target(Settings.load(config))

    async def main() -> None:
        client = await ChainClient.connect(url)
        try:
            typer.echo(f"rpc {url}  chain {client.chain_id}  head {await client.w3.eth.block_number}")
        finally:
            await client.close()

    try:
        asyncio.run(main())
    except Exception as error:
        typer.echo(f"chain not reachable at {url}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(addresses.model_dump_json(indent=1) if addresses else "no contracts deployed yet")


@chain_app.command("deploy")
def deploy(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL (default: the embedded dev chain)")] = None,
    key_env: Annotated[
        str, typer.Option(help="environment variable holding the deployer's hex private key")
    ] = "CLUSTER_DEPLOYER_KEY",
    usdc: Annotated[str | None, typer.Option(help="USDC address (default: deploy TestUSDC, dev chains only)")] = None,
    treasury: Annotated[str | None, typer.Option(help="treasury address (default: the deployer)")] = None,
    owner: Annotated[str | None, typer.Option(help="final owner of the contracts (default: the deployer)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the deployment JSON here")] = None,
    config: ConfigOption = None,
) -> None:
    """Deploy Cluster's contracts; prints the ``[chain.addresses]`` to put in cluster.toml."""
    from cluster.chain.client import ChainClient
    from cluster.chain.deployment import deploy_all
    from cluster.chain.devchain import DEPLOYER_INDEX, DevChain, dev_key

    settings = Settings.load(config)
    key = os.environ.get(key_env)
    if rpc is None:
        rpc = DevChain(settings.data_dir, settings.chain.dev).url
        key = key or dev_key(DEPLOYER_INDEX)
    if not key:
        raise typer.BadParameter(f"${key_env} is not set", param_hint="--key-env")

    async def main() -> str:
        client = await ChainClient.connect(rpc, signer_key=key)
        try:
            if usdc is None and client.chain_id in (8453, 84532, 1):
                raise typer.BadParameter("give --usdc: TestUSDC is for dev chains only")
            assert client.signer is not None
            deployment = await deploy_all(client, treasury=treasury or client.signer.address, owner=owner, usdc=usdc)
            if out is not None:
                deployment.save(out)
            return deployment.model_dump_json(indent=1)
        finally:
            await client.close()

    typer.echo(asyncio.run(main()))


@chain_app.command("compile")
def compile_() -> None:
    """Recompile contracts/ with solc (npm) into the committed artifacts (needs a source checkout)."""
    from cluster.chain.compile import write_artifacts

    for path in write_artifacts():
        typer.echo(f"wrote {path}")
