"""Requests charged through the gateway, on SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Secured, make_settings, mock_provider, secured_app
from tests.support import MockUpstream

CHAT = "/v1/chat/completions"
# The mock upstream reports 10 prompt and 8 completion tokens; at 1 and 2 USDC per 1M tokens that costs
# ceil((10 * 1_000_000 + 8 * 2_000_000) / 1_000_000) = 26 micro-USDC.
COST = 26


@pytest.fixture
async def gateway(database_url: str, tmp_path: Path, mock_upstream: MockUpstream) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        auth={"required": True},
        providers=[mock_provider("up", mock_upstream)],
        models=[{"id": "mock-model", "input_price": 1_000_000, "output_price": 2_000_000}],
    )
    async for value in secured_app(settings):
        yield value


def body(stream: bool = False) -> dict[str, object]:
    return {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16, "stream": stream}


async def test_1000_concurrent_requests_against_a_balance_that_covers_some(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=COST * 300 + 13)
    headers = gateway.auth(key)
    semaphore = asyncio.Semaphore(200)

    async def one(i: int) -> int:
        async with semaphore:
            response = await gateway.http.post(CHAT, json=body(stream=i % 3 == 0), headers=headers)
            if response.status_code == 402:
                assert response.json()["error"]["code"] == "insufficient_quota"
            return response.status_code

    statuses = await asyncio.gather(*(one(i) for i in range(1000)))
    served = statuses.count(200)
    assert served + statuses.count(402) == 1000, sorted(set(statuses))
    assert 100 <= served <= 300  # at least the first round of holds fits; at most what the balance pays for
    balance = (await gateway.http.get("/v1/balance", headers=headers)).json()
    assert balance["held"] == 0
    assert balance["available"] == COST * 300 + 13 - COST * served >= 0
    services = gateway.app.state.services  # type: ignore[attr-defined]
    audit = await services.billing.audit()
    assert audit == {"sum": 0, "mismatched_accounts": 0, "revenue": COST * served}

    await services.request_log.flush()
    report = await gateway.http.get(
        f"/v1/usage?start={date.today()}&end={date.today()}&group_by=model", headers=headers
    )
    total = report.json()["total"]
    assert total["cost"] == COST * served and total["requests"] == 1000 and total["errors"] == 1000 - served
    assert total["completion_tokens"] == 8 * served


async def test_a_stream_costs_what_the_same_completion_costs(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=1_000)
    headers = gateway.auth(key)
    await gateway.http.post(CHAT, json=body(), headers=headers)
    after_plain = (await gateway.http.get("/v1/balance", headers=headers)).json()["available"]
    await gateway.http.post(CHAT, json=body(stream=True), headers=headers)
    after_stream = (await gateway.http.get("/v1/balance", headers=headers)).json()["available"]
    assert 1_000 - after_plain == after_plain - after_stream == COST


async def test_a_request_the_balance_cannot_hold_is_402_and_charges_nothing(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=20)
    response = await gateway.http.post(CHAT, json=body(), headers=gateway.auth(key))
    assert response.status_code == 402 and response.json()["error"]["type"] == "insufficient_quota"
    assert (await gateway.http.get("/v1/balance", headers=gateway.auth(key))).json()["available"] == 20


async def test_a_failed_upstream_releases_the_hold(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=1_000)
    response = await gateway.http.post(CHAT, json={**body(), "mock_status": 500}, headers=gateway.auth(key))
    assert response.status_code == 503
    balance = (await gateway.http.get("/v1/balance", headers=gateway.auth(key))).json()
    assert (balance["available"], balance["held"]) == (1_000, 0)


async def test_usage_groups_by_model_day_and_key(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=10_000)
    for _ in range(3):
        await gateway.http.post(CHAT, json=body(), headers=gateway.auth(key))
    await gateway.app.state.services.request_log.flush()  # type: ignore[attr-defined]
    today = date.today()
    report = await gateway.http.get(
        f"/v1/usage?start={today}&end={today}&group_by=model,day,key", headers=gateway.auth(key)
    )
    (bucket,) = report.json()["data"]
    assert bucket["model"] == "mock-model" and bucket["day"] == str(today) and bucket["key_id"].startswith("key_")
    assert (bucket["requests"], bucket["prompt_tokens"], bucket["cost"]) == (3, 30, 3 * COST)
    bad = await gateway.http.get(f"/v1/usage?start={today}&end={today}&group_by=colour", headers=gateway.auth(key))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"
