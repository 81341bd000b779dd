"""A marketplace on the session's anvil: keys required, the service signs mints, the indexer follows sales."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from cluster.chain.devchain import dev_address, dev_key
from cluster.marketplace.protocol import link_message
from cluster.settings import Settings
from tests.chain_fixtures import Chain
from tests.conftest import Secured, make_settings, secured_app


@dataclass
class User:
    id: str
    key: str
    wallet: int | None

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


@dataclass
class Market:
    app: Secured
    chain: Chain

    async def user(self, wallet: int | None = None) -> User:
        user_id, key = await self.app.new_user(scopes=["read", "write"])
        user = User(user_id, key, wallet)
        if wallet is not None:
            issued = int(time.time())
            message = encode_defunct(text=link_message(user_id, dev_address(wallet), issued))
            signature = "0x" + bytes(Account.sign_message(message, dev_key(wallet)).signature).hex()
            body = {"address": dev_address(wallet), "issued_at": issued, "signature": signature}
            response = await self.app.http.post("/v1/wallets", json=body, headers=user.auth())
            assert response.status_code == 201, response.text
        return user

    async def upload(self, user: User, content: bytes, filename: str = "data.jsonl", **fields: Any) -> Any:
        form = {
            "name": "Weather stations 2026",
            "slug": "weather-2026",
            "price": "2500000",
            "category": "other",
            "license": "CC-BY-4.0",
            "description": "Hourly readings",
            "wallet": dev_address(user.wallet if user.wallet is not None else 2),
            **{k: str(v) for k, v in fields.items()},
        }
        return await self.app.http.post(
            "/v1/datasets", data=form, files={"file": (filename, content)}, headers=user.auth()
        )

    async def buy(self, slug_id: int, buyer: int, price: int, referrer: str = "0x" + "00" * 20) -> None:
        contracts = await self.chain.contracts(buyer)
        await contracts.usdc.approve(contracts.router.address, price)
        await contracts.router.purchase(slug_id, referrer)


def market_settings(tmp_path: Path, chain: Chain, **extra: Any) -> Settings:
    return make_settings(
        tmp_path,
        **extra,
        auth={"required": True},
        chain=chain.settings(),
    )


@pytest.fixture
async def market(tmp_path: Path, chain: Chain) -> AsyncIterator[Market]:
    async for app in secured_app(market_settings(tmp_path, chain)):
        yield Market(app, chain)


@pytest.fixture
async def pg_market(tmp_path: Path, chain: Chain, postgres_url: str) -> AsyncIterator[Market]:
    """The same marketplace on PostgreSQL."""
    async for app in secured_app(market_settings(tmp_path, chain, database_url=postgres_url)):
        yield Market(app, chain)
