"""``cluster verify RECEIPT.json`` (offline re-verification of a confidential response) and ``cluster enclave``
(the simulated enclave for development: NOT a TEE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from cluster.cli.accounts import reported
from cluster.tee.attestation import nvidia_keys
from cluster.tee.errors import VerificationFailed
from cluster.tee.receipts import Receipt, verify_receipt

if TYPE_CHECKING:
    from cluster.chain.contracts import ComposeRegistry

T = TypeVar("T")

enclave_app = typer.Typer(no_args_is_help=True, help="The simulated enclave (development only: no TEE).")
tee_app = typer.Typer(no_args_is_help=True, help="Enclave builds (compose hashes) allowed on the ComposeRegistry.")
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="cluster.toml to read")]
HashArgument = Annotated[str, typer.Argument(help="the build's compose hash (64 hex, 0x optional)")]


@tee_app.command("allow")
def allow(compose_hash: HashArgument, config: ConfigOption = None) -> None:
    """Allow a build on chain (the registry owner's key: chain.signer_key; on the dev chain, the deployer's)."""
    _registry_call(config, lambda registry, _: registry.add(_hash(compose_hash)))
    typer.echo(f"allowed {_hash(compose_hash).hex()}")


@tee_app.command("revoke")
def revoke(compose_hash: HashArgument, config: ConfigOption = None) -> None:
    """Revoke a build on chain: providers that trust it through the registry fail their next attestation (one that
    also lists it in allowed_compose_hashes keeps it under compose_policy = either; `registry` makes this final)."""
    _registry_call(config, lambda registry, _: registry.remove(_hash(compose_hash)))
    typer.echo(f"revoked {_hash(compose_hash).hex()}")


@tee_app.command("list")
def list_allowed(config: ConfigOption = None) -> None:
    """The builds allowed now (from the registry's events, each checked against its current state)."""
    for compose_hash in _registry_call(config, lambda registry, start: registry.allowed_hashes(start)):
        typer.echo(compose_hash.hex())


def _hash(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.lower().removeprefix("0x"))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise typer.BadParameter("a compose hash is 32 bytes of hex", param_hint="COMPOSE_HASH")
    return value


def _registry_call(config: Path | None, call: Callable[[ComposeRegistry, int], Awaitable[T]]) -> T:
    """``call(registry, deployment block)`` against the configured chain's ComposeRegistry, signed by the owner."""
    from cluster.chain.client import ChainClient
    from cluster.chain.contracts import ComposeRegistry
    from cluster.chain.devchain import DEPLOYER_INDEX, dev_key
    from cluster.cli.chain import target
    from cluster.settings import Settings

    settings = Settings.load(config)
    url, addresses = target(settings)
    registry = addresses.compose_registry if addresses else None
    if registry is None:
        typer.echo("no ComposeRegistry deployed on this chain (chain.addresses.compose_registry)", err=True)
        raise typer.Exit(1)
    chain = settings.chain
    key = chain.signer_key.get_secret_value() if chain.signer_key else None
    key = key or (dev_key(DEPLOYER_INDEX) if chain.embedded else None)

    async def main() -> T:
        client = await ChainClient.connect(url, signer_key=key)
        try:
            return await call(ComposeRegistry(client, registry), addresses.start_block if addresses else 0)
        finally:
            await client.close()

    return reported(main)


def verify(
    receipt: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a receipt (GET /v1/receipts/{id})")],
    allow_simulated: Annotated[
        bool, typer.Option(help="accept a simulated enclave's quote (proves nothing: development only)")
    ] = False,
    rpc: Annotated[str | None, typer.Option(help="a JSON-RPC node, to check the compose hash on chain")] = None,
    registry: Annotated[str | None, typer.Option(help="the ComposeRegistry's address (with --rpc)")] = None,
    nvidia_jwks: Annotated[
        str | None, typer.Option(help="NVIDIA's NRAS JWKS (URL or file), to check the GPU evidence too")
    ] = None,
) -> None:
    """Re-verify a receipt with nothing but itself: attestation digest, quote, report_data, event log, compose
    hash, (registry, with --rpc), and the provider's signature over the request and response hashes."""
    parsed = Receipt.model_validate(json.loads(receipt.read_text()))
    try:
        steps = asyncio.run(_verify(parsed, allow_simulated, rpc, registry, nvidia_jwks))
    except VerificationFailed as failure:
        typer.echo(f"FAILED at {failure.step}: {failure.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"verified: {' -> '.join(steps)}")
    if parsed.simulated:  # bound to the attestation by verify_receipt
        typer.echo("WARNING: a simulated enclave: no TEE, no hardware proof (accepted because of --allow-simulated)")


async def _verify(
    receipt: Receipt, allow_simulated: bool, rpc: str | None, registry: str | None, jwks: str | None
) -> list[str]:
    keys = await nvidia_keys(jwks) if jwks else None
    if rpc is None or registry is None:
        return await verify_receipt(receipt, allow_simulated=allow_simulated, nvidia_keys=keys)
    from cluster.chain.client import ChainClient
    from cluster.chain.contracts import ComposeRegistry

    client = await ChainClient.connect(rpc)
    try:
        return await verify_receipt(
            receipt,
            allow_simulated=allow_simulated,
            compose_allowed=ComposeRegistry(client, registry).allowed,
            nvidia_keys=keys,
        )
    finally:
        await client.close()


@enclave_app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="port")] = 8700,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
) -> None:
    """Serve the bundled chat model behind the confidential-provider API, with a simulated quote."""
    import uvicorn

    from cluster.devservers.enclave import create_enclave_app, local_enclave

    simulated = local_enclave()
    typer.echo(f"SIMULATED enclave (no TEE) on http://{host}:{port}/v1")
    typer.echo(f"compose hash: {simulated.compose_hash.hex()}  (trust it with: cluster tee allow <hash>)")
    uvicorn.run(create_enclave_app(simulated), host=host, port=port, log_level="warning")
