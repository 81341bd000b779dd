"""``cluster verify RECEIPT.json`` (offline re-verification of a confidential response) and ``cluster enclave``
(the simulated enclave for development: NOT a TEE)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from cluster.tee.attestation import nvidia_keys
from cluster.tee.errors import VerificationFailed
from cluster.tee.receipts import Receipt, verify_receipt

enclave_app = typer.Typer(no_args_is_help=True, help="The simulated enclave (development only: no TEE).")


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

    typer.echo(f"SIMULATED enclave (no TEE) on http://{host}:{port}/v1")
    uvicorn.run(create_enclave_app(local_enclave()), host=host, port=port, log_level="warning")
