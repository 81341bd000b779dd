"""A paid gateway on the session's anvil: keys required, x402 on, a priced model behind the mock upstream,
served over real HTTP (the official x402 client speaks to a URL)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.app import create_app
from cluster.chain.contracts import TransferAuthorization
from cluster.chain.devchain import dev_address, dev_key
from cluster.chain.eip3009 import sign_authorization, usdc_domain
from cluster.settings import Settings
from tests.chain_fixtures import Chain
from tests.conftest import make_settings, mock_provider
from tests.support import MockUpstream, ServerThread, bootstrap_admin

PAYER, OTHER = 5, 6
CHAT = "/v1/chat/completions"
BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "Pay per request"}]}


def paid_settings(
    tmp_path: Path, chain: Chain, upstream: MockUpstream, database_url: str | None = None, **x402: Any
) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        auth={"required": True},
        providers=[mock_provider("up", upstream)],
        models=[
            {"id": "mock-model", "input_price": 1_000_000, "output_price": 2_000_000},
            {"id": "mock-embed", "task": "embedding", "input_price": 1_000_000},
        ],
        chain=chain.settings(),
        x402=x402,
    )


@dataclass
class Gateway:
    url: str
    server: ServerThread
    admin_key: str
    chain: Chain

    @property
    def services(self) -> Any:
        return self.server.server.config.app.state.services  # type: ignore[attr-defined]

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)

    async def quote(self, body: dict[str, Any] = BODY) -> dict[str, Any]:
        """The v2 requirements the gateway asks for ``body``."""
        async with self.http() as http:
            response = await http.post(CHAT, json=body)
        assert response.status_code == 402, response.text
        required = json.loads(base64.b64decode(response.headers["payment-required"]))
        return dict(required["accepts"][0])


@pytest.fixture
def gateway(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream) -> Iterator[Gateway]:
    yield from _serve(paid_settings(tmp_path, chain, mock_upstream), chain)


@pytest.fixture
def pg_gateway(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream, postgres_url: str) -> Iterator[Gateway]:
    """The same gateway on PostgreSQL (where the claim is a unique index shared by every process)."""
    yield from _serve(paid_settings(tmp_path, chain, mock_upstream, postgres_url), chain)


def _serve(settings: Settings, chain: Chain) -> Iterator[Gateway]:
    import asyncio

    _, admin_key = asyncio.run(bootstrap_admin(settings))
    with ServerThread(create_app(settings)) as server:
        yield Gateway(server.url, server, admin_key, chain)


def sign_payment(
    chain: Chain,
    accepts: dict[str, Any],
    *,
    account: int = PAYER,
    signer: int | None = None,
    version: int = 2,
    **override: Any,
) -> str:
    """A PAYMENT-SIGNATURE (or v1 X-PAYMENT) header paying ``accepts``, with any field overridden."""
    now = int(time.time())
    fields = {
        "from": dev_address(account),
        "to": accepts["payTo"],
        "value": int(accepts["amount"]),
        "validAfter": 0,
        "validBefore": now + 300,
        "nonce": "0x" + os.urandom(32).hex(),
    }
    fields.update(override.pop("authorization", {}))
    auth = TransferAuthorization(
        fields["from"],
        fields["to"],
        fields["value"],
        fields["validAfter"],
        fields["validBefore"],
        bytes.fromhex(fields["nonce"][2:]),
    )
    domain = usdc_domain(chain.chain_id, accepts["asset"], accepts["extra"]["name"], accepts["extra"]["version"])
    signature = "0x" + sign_authorization(dev_key(signer if signer is not None else account), domain, auth).hex()
    inner = {"authorization": {k: str(v) for k, v in fields.items()}, "signature": signature}
    if version == 1:
        payload: dict[str, Any] = {
            "x402Version": 1,
            "scheme": "exact",
            "network": override.get("network", "base-sepolia"),
            "payload": inner,
        }
    else:
        payload = {"x402Version": 2, "payload": inner, "accepted": {**accepts, **override}}
    return base64.b64encode(json.dumps(payload).encode()).decode()


def settle_response(response: httpx.Response) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(response.headers["payment-response"])))
