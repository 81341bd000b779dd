"""Every number the API takes is bounded in its wire model or query: a value out of range is a 400 naming the
parameter (never an overflow inside the database, a timedelta or a JSON encoder), and the OpenAPI spec says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chain_fixtures import Chain
from tests.conftest import Secured, make_settings, mock_provider, secured_app
from tests.support import MockUpstream

HUGE = 341552438825864921088


@pytest.fixture
async def app(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        chain=chain.settings(),
        local={"enabled": False},
        providers=[mock_provider("up", mock_upstream)],
    )
    async for secured in secured_app(settings):
        yield secured


async def _refused(response: object, param: str) -> None:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["param"] == param and error["type"] == "invalid_request_error", error


async def test_numbers_out_of_range_are_400s_naming_them(app: Secured) -> None:
    http, auth = app.http, app.auth()
    await _refused(await http.get(f"/v1/datasets?offset={HUGE}&limit=39", headers=auth), "offset")
    await _refused(await http.post("/v1/keys", json={"expires_in_days": 9.9e307}, headers=auth), "expires_in_days")
    await _refused(await http.post("/v1/keys", json={"rpm": HUGE}, headers=auth), "rpm")
    credit = {"user_id": app.admin_id, "amount": HUGE, "idempotency_key": "k"}
    await _refused(await http.post("/v1/admin/credit", json=credit, headers=auth), "amount")
    chat = {"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}
    await _refused(await http.post("/v1/chat/completions", json={**chat, "seed": 2**70}, headers=auth), "seed")
    await _refused(
        await http.post("/v1/chat/completions", json={**chat, "max_tokens": HUGE}, headers=auth), "max_tokens"
    )
    bias = {**chat, "logit_bias": {"5": 1e308}}
    await _refused(await http.post("/v1/chat/completions", json=bias, headers=auth), "logit_bias.5")
    # an engine-specific parameter passes through, but not one no JSON encoder can write
    await _refused(await http.post("/v1/chat/completions", json={**chat, "top_k": HUGE}, headers=auth), "top_k")
    assert (await http.post("/v1/chat/completions", json={**chat, "top_k": 40}, headers=auth)).status_code == 200


async def test_the_spec_states_the_bounds(app: Secured) -> None:
    spec = (await app.http.get("/openapi.json")).json()
    browse = spec["paths"]["/v1/datasets"]["get"]["parameters"]
    assert next(p for p in browse if p["name"] == "offset")["schema"]["maximum"] > 0
    key = spec["components"]["schemas"]["KeyCreateRequest"]["properties"]["expires_in_days"]["anyOf"][0]
    assert key["maximum"] > 0
    chat = spec["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert chat["seed"]["anyOf"][0]["maximum"] >= 2**62


async def test_every_amount_of_money_on_the_api_is_integer_micro_usdc(app: Secured) -> None:
    """One representation of money (defect 7): any field documented in USDC is an integer of micro-USDC."""
    spec = (await app.http.get("/openapi.json")).json()
    money: list[str] = []
    for schema_name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if "USDC" not in prop.get("description", "") or schema_name.startswith(("X402", "Payment")):
                continue
            types = {option.get("type") for option in prop.get("anyOf", [prop])} - {"null"}
            assert types == {"integer"}, f"{schema_name}.{field} is {types}"
            money.append(f"{schema_name}.{field}")
    assert {"Pricing.input", "Pricing.output", "DatasetObject.price"} <= set(money)
