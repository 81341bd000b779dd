"""One JSON line per request on ``cluster.access``, with the request id every response carries; no content."""

from __future__ import annotations

import json
import logging

import httpx
import pytest


async def test_one_json_line_per_request_with_its_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cluster.access")
    secret = "my very private prompt"
    chat = await client.post(
        "/v1/chat/completions?x=1",
        json={"model": "smollm2", "messages": [{"role": "user", "content": secret}], "max_tokens": 2},
    )
    health = await client.get("/health")
    missing = await client.get("/v1/nowhere")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cluster.access"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/v1/chat/completions", 200),
        ("GET", "/health", 200),
        ("GET", "/v1/nowhere", 404),
    ]
    assert [line["request_id"] for line in lines] == [r.headers["x-request-id"] for r in (chat, health, missing)]
    assert all(line["ms"] >= 0 for line in lines)
    assert secret not in caplog.text and "x=1" not in caplog.text
