"""The OpenAI-compatible adapter against a real upstream process (bench/mock_upstream.py)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from cluster.app import create_app
from cluster.settings import ProviderConfig
from tests.conftest import make_settings, mock_provider
from tests.support import MockUpstream, free_port

CHAT = "/v1/chat/completions"
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def gateway(tmp_path: Path, mock_upstream: MockUpstream) -> AsyncIterator[httpx.AsyncClient]:
    dead = ProviderConfig(name="dead", base_url=f"http://127.0.0.1:{free_port()}/v1", models=["only-dead"])
    settings = make_settings(tmp_path, local={"enabled": False}, providers=[mock_provider("up", mock_upstream), dead])
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cluster") as http,
    ):
        yield http


def events(text: str) -> list[bytes]:
    return [chunk for chunk in text.encode().split(b"\n\n") if chunk]


async def test_completion_is_the_upstreams_bytes(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CHAT, json={"model": "mock-model", "messages": MSG, "top_k": 5})
    assert response.status_code == 200
    assert response.headers["x-cluster-provider"] == "up"
    assert response.json()["system_fingerprint"] == "mock-solo"
    assert response.json()["usage"]["completion_tokens"] == 8


async def test_stream_passes_through_and_hides_the_usage_it_asked_for(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CHAT, json={"model": "mock-model", "messages": MSG, "stream": True})
    chunks = events(response.text)
    assert chunks[-1] == b"data: [DONE]"
    assert len(chunks) == 1 + 1 + 8 + 1  # role, 8 content, finish, [DONE]
    assert not any(b'"usage":{' in c for c in chunks)
    body = {"model": "mock-model", "messages": MSG, "stream": True, "stream_options": {"include_usage": True}}
    chunks = events((await gateway.post(CHAT, json=body)).text)
    assert orjson.loads(chunks[-2][6:])["usage"]["completion_tokens"] == 8


async def test_upstream_4xx_is_passed_through_untouched(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CHAT, json={"model": "mock-model", "messages": MSG, "mock_status": 422})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "mock solo says 422"


async def test_upstream_5xx_without_an_alternative_is_503(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CHAT, json={"model": "mock-model", "messages": MSG, "mock_status": 500})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert "500" in response.json()["error"]["message"]


async def test_unreachable_provider_is_503(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CHAT, json={"model": "only-dead", "messages": MSG})
    assert response.status_code == 503 and response.json()["error"]["code"] == "provider_unavailable"


async def test_failure_mid_stream_ends_with_an_error_event(gateway: httpx.AsyncClient) -> None:
    body = {"model": "mock-model", "messages": MSG, "stream": True, "mock_break_after": 3}
    response = await gateway.post(CHAT, json=body)
    assert response.status_code == 200
    chunks = events(response.text)
    assert len(chunks) == 3 + 2
    error = orjson.loads(chunks[-2][6:])["error"]
    assert error["code"] == "stream_interrupted" and error["type"] == "server_error"
    assert chunks[-1] == b"data: [DONE]"


async def test_failure_before_the_first_event_is_routed_around(gateway: httpx.AsyncClient) -> None:
    body = {"model": "mock-model", "messages": MSG, "stream": True, "mock_break_after": 0}
    response = await gateway.post(CHAT, json=body)
    assert response.status_code == 503


async def test_embeddings_pass_through(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/v1/embeddings", json={"model": "mock-embed", "input": ["a", "b"]})
    assert response.status_code == 200 and len(response.json()["data"]) == 2
