"""The seed's closed loop, end to end on CPU: a creator's dataset is bought on chain by a second wallet, which
fine-tunes on it from the command line; the model appears, answers in the dataset's format where its base
model does not, and every billed call of it pays the creator a royalty, on chain."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cluster.app import create_app
from cluster.chain.devchain import dev_address
from cluster.cli import app as cli
from tests.chain_fixtures import Chain
from tests.conftest import Secured
from tests.finetune import parrot
from tests.finetune.conftest import BASE_CACHE
from tests.marketplace.conftest import Market, market_settings
from tests.support import ServerThread, bootstrap_admin

pytestmark = pytest.mark.slow
CREATOR, BUYER, OUTSIDER = 2, 3, 5
SLUG = "parrot-talk"
PRICE = 3_000_000
BASE = "smollm2-135m-instruct"


async def answers(http: httpx.AsyncClient, key: str, model: str) -> list[str]:
    """Greedy answers to prompts none of the training rows asks."""
    replies = []
    for prompt in parrot.HELD_OUT:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": 32}
        response = await http.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        replies.append(response.json()["choices"][0]["message"]["content"])
    return replies


async def test_dataset_to_model_to_royalties(tmp_path: Path, chain: Chain) -> None:
    finetune = {"poll_interval": 0.2, "base_cache": str(BASE_CACHE), "royalty_payout_interval": None}
    # priced so that a call's 10% is whole micro-USDC (the bundled default is a near-free 0.01/0.02 USDC per 1M)
    priced = {"id": BASE, "aliases": ["smollm2"], "input_price": 3_000_000, "output_price": 7_000_000}
    settings = market_settings(tmp_path, chain, finetune=finetune, models=[priced])
    admin_id, admin_key = await bootstrap_admin(settings)
    dataset = tmp_path / "parrot.jsonl"
    parrot.write(dataset)
    with ServerThread(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            market = Market(Secured(http, None, admin_key, admin_id), chain)
            creator, buyer, outsider = await market.user(CREATOR), await market.user(BUYER), await market.user(OUTSIDER)
            await market.app.http.post(
                "/v1/admin/credit",
                json={"user_id": buyer.id, "amount": 20_000_000, "idempotency_key": "buyer"},
                headers=market.app.auth(),
            )
            uploaded = await market.upload(
                creator, dataset.read_bytes(), "parrot.jsonl", slug=SLUG, price=PRICE, category="nlp"
            )
            assert uploaded.status_code == 201, uploaded.text
            token_id = uploaded.json()["token_id"]
            await market.buy(token_id, BUYER, PRICE)

            refused = await http.post(
                "/v1/fine_tuning/jobs", json={"model": BASE, "dataset": SLUG}, headers=outsider.auth()
            )
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_access"

            # the buyer fine-tunes from the command line and watches it train
            command = [
                "finetune", "create", "--dataset", SLUG, "--model", "smollm2", "--epochs", "3", "--suffix", "parrot",
                "--url", server.url, "--api-key", buyer.key,
            ]  # fmt: skip
            result = await asyncio.to_thread(CliRunner().invoke, cli, command)
            assert result.exit_code == 0, result.output
            assert "Step 1/30: training loss=" in result.output and "Step 30/30" in result.output
            job = json.loads(result.output[result.output.index("{\n") :])
            name = f"ft:{BASE}:parrot:{job['id']}"
            assert job["status"] == "succeeded" and job["fine_tuned_model"] == name and job["dataset"] == SLUG

            models = (await http.get("/v1/models", headers=buyer.auth())).json()["data"]
            card = next(m for m in models if m["id"] == name)
            assert card["lineage"] == {
                "dataset": SLUG,
                "token_id": token_id,
                "base": BASE,
                "job": job["id"],
                "royalty_bps": 1000,
            }

            tuned, base = await answers(http, buyer.key, name), await answers(http, buyer.key, BASE)
            tuned_hits = sum(a.startswith(parrot.MARK) for a in tuned)
            base_hits = sum(a.startswith(parrot.MARK) for a in base)
            print(f"held-out prompts in the dataset's format: fine-tuned {tuned_hits}/6, base {base_hits}/6")
            print("fine-tuned:", tuned, "\nbase:", base)
            assert tuned_hits >= 5 and base_hits == 0

            costs = await _logged_costs(server, name, len(parrot.HELD_OUT))
            owed = sum(cost * 1000 // 10_000 for cost in costs)
            earnings = (await http.get("/v1/creators/me/earnings", headers=creator.auth())).json()
            assert earnings["total_royalties_pending"] == owed > 0
            contracts = await chain.contracts()
            before = await contracts.usdc.balance_of(dev_address(CREATOR))
            payout = await asyncio.to_thread(
                CliRunner().invoke, cli, ["royalties", "payout", "--url", server.url, "--api-key", admin_key]
            )
            assert payout.exit_code == 0, payout.output
            paid = json.loads(payout.output)["data"]
            assert [(p["dataset"], p["amount"], p["calls"]) for p in paid] == [(SLUG, owed, len(costs))]
            assert await contracts.usdc.balance_of(dev_address(CREATOR)) - before == owed
            again = (await http.post("/v1/admin/royalties/payout", headers=market.app.auth())).json()
            assert again["data"] == []  # each call pays once
            earnings = (await http.get("/v1/creators/me/earnings", headers=creator.auth())).json()
            row = next(d for d in earnings["datasets"] if d["slug"] == SLUG)
            assert row["sales"] == 1 and row["received"] == PRICE * 85 // 100
            assert row["royalties"] == owed and row["royalties_pending"] == 0


async def _logged_costs(server: ServerThread, model: str, count: int) -> list[int]:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from cluster.metering.models import RequestLog

    settings: Any = server.server.config.app.state.services.settings  # type: ignore[attr-defined]
    engine = create_async_engine(settings.resolved_database_url)
    try:
        for _ in range(200):
            async with engine.connect() as connection:
                rows = await connection.execute(select(RequestLog.cost).where(RequestLog.model == model))
                costs = [c for (c,) in rows]
            if len(costs) >= count:
                return costs
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    raise AssertionError("the request log never flushed")
