"""Which enclave builds a confidential provider trusts (`compose_policy`), and `cluster tee allow|revoke|list` on the
chain's ComposeRegistry: the flow docs/tee.md gives a newcomer works with the chain up, as it always is on
`make run`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cluster.cli import app as cli
from tests.chain_fixtures import Chain
from tests.conftest import Secured, make_settings, secured_app
from tests.tee.test_confidential import MODEL

pytestmark = pytest.mark.slow
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 4}


def _provider(url: str, **policy: object) -> dict[str, object]:
    return {"name": "enclave", "base_url": f"{url}/v1", "tee": True, "allow_simulated": True,
            "attestation_interval": 0.5, "models": {MODEL: "smollm2-135m-instruct"}, **policy}  # fmt: skip


@pytest.fixture
def gateway_with(tmp_path: Path, chain: Chain) -> Callable[..., Any]:
    def start(provider: dict[str, object]) -> AsyncIterator[Secured]:
        settings = make_settings(
            tmp_path,
            auth={"required": True},
            chain=chain.settings(),
            finetune={"enabled": False},
            providers=[provider],
            models=[{"id": MODEL, "tee": True}],
        )
        return secured_app(settings)

    return start


def tee_cli(chain: Chain, *args: str) -> str:
    env = {
        "CLUSTER_CHAIN__RPC_URL": chain.node.url,
        "CLUSTER_CHAIN__ADDRESSES": json.dumps(chain.addresses.model_dump()),
        "CLUSTER_CHAIN__SIGNER_KEY": chain.key(0),
    }
    result = CliRunner().invoke(cli, ["tee", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def _chat(app: Secured) -> Any:
    return await app.http.post("/v1/chat/completions", json=BODY, headers=app.auth())


async def test_the_newcomer_flow_allow_list_and_revoke_from_the_cli(
    gateway_with: Callable[..., Any],
    enclave: Any,
    chain: Chain,
    tmp_path: Path,
) -> None:
    build = enclave.compose_hash.hex()
    async for app in gateway_with(_provider(enclave.url)):
        refused = await _chat(app)
        assert refused.status_code == 503 and "attestation failed at registry" in refused.text
        assert build not in await asyncio.to_thread(tee_cli, chain, "list")
        assert "allowed" in await asyncio.to_thread(tee_cli, chain, "allow", f"0x{build}")
        assert build in await asyncio.to_thread(tee_cli, chain, "list")
        answered = await _chat(app)
        assert answered.status_code == 200, answered.text
        receipt = await app.http.get(f"/v1/receipts/{answered.headers['x-cluster-receipt-id']}", headers=app.auth())
        (tmp_path / "receipt.json").write_text(receipt.text)
        verify = ["verify", str(tmp_path / "receipt.json"), "--allow-simulated"]
        verified = await asyncio.to_thread(CliRunner().invoke, cli, verify)
        assert verified.exit_code == 0 and "verified:" in verified.output
        await asyncio.to_thread(tee_cli, chain, "revoke", build)
        assert build not in await asyncio.to_thread(tee_cli, chain, "list")
        await asyncio.sleep(0.6)  # the attestation interval: the next check reads the registry again
        assert (await _chat(app)).status_code == 503


async def test_a_configured_allow_list_counts_with_the_chain_up(
    gateway_with: Callable[..., Any],
    enclave: Any,
) -> None:
    """Seen before: with the chain up only the registry counted, so the documented allow-list was ignored."""
    async for app in gateway_with(_provider(enclave.url, allowed_compose_hashes=[enclave.compose_hash.hex()])):
        assert (await _chat(app)).status_code == 200


async def test_the_registry_policy_ignores_the_allow_list(
    gateway_with: Callable[..., Any],
    enclave: Any,
) -> None:
    listed = _provider(enclave.url, allowed_compose_hashes=[enclave.compose_hash.hex()], compose_policy="registry")
    async for app in gateway_with(listed):
        response = await _chat(app)
        assert response.status_code == 503 and "registry" in response.text
