"""Bad input gets OpenAI's error JSON with the right status."""

import httpx
import pytest

from cluster.app import create_app
from tests.conftest import make_settings

CHAT = "/v1/chat/completions"


def assert_error(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param


async def test_unknown_model_is_404_model_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json={"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})
    assert_error(response, 404, "model_not_found", "model")
    assert response.json()["error"]["type"] == "invalid_request_error"
    response = await client.post("/v1/embeddings", json={"model": "gpt-9", "input": "x"})
    assert_error(response, 404, "model_not_found", "model")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "smollm2"}, "messages"),
        ({"model": "smollm2", "messages": []}, "messages"),
        ({"model": "smollm2", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        (
            {"model": "smollm2", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            "temperature",
        ),
        ({"model": "smollm2", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
        (
            {"model": "smollm2", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1},
            "max_tokens",
        ),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
async def test_invalid_chat_bodies_are_400(client: httpx.AsyncClient, body: dict, param: str) -> None:
    assert_error(await client.post(CHAT, json=body), 400, "invalid_request", param)


async def test_stream_options_without_stream_is_400(client: httpx.AsyncClient) -> None:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "x"}],
        "stream_options": {"include_usage": True},
    }
    assert_error(await client.post(CHAT, json=body), 400, "invalid_request")


async def test_invalid_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, content=b'{"model": ', headers={"content-type": "application/json"})
    assert_error(response, 400, "invalid_request")
    assert "JSON" in response.json()["error"]["message"]


async def test_embedding_input_checks(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": []}),
        400,
        "invalid_request",
    )
    body = {"model": "all-minilm-l6-v2", "input": "x", "encoding_format": "hex"}
    assert_error(await client.post("/v1/embeddings", json=body), 400, "invalid_request", "encoding_format")
    body = {"model": "all-minilm-l6-v2", "input": "x", "dimensions": 128}
    assert_error(await client.post("/v1/embeddings", json=body), 400, "unsupported_parameter", "dimensions")


async def test_wrong_endpoint_for_the_model_is_400(client: httpx.AsyncClient) -> None:
    body = {"model": "all-minilm-l6-v2", "messages": [{"role": "user", "content": "x"}]}
    assert_error(await client.post(CHAT, json=body), 400, "model_not_supported", "model")
    assert_error(
        await client.post("/v1/embeddings", json={"model": "smollm2", "input": "x"}),
        400,
        "model_not_supported",
    )


async def test_unknown_route_and_method_keep_the_error_format(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/nothing"), 404, "not_found")
    assert_error(await client.get(CHAT), 405, "method_not_allowed")


async def test_body_over_the_limit_is_413(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path, server={"max_body_bytes": 2048}))
    big = {"model": "smollm2", "messages": [{"role": "user", "content": "x" * 4096}]}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
            assert_error(await http.post(CHAT, json=big), 413, "payload_too_large")

            async def chunked():  # no content-length: the limit is counted while reading
                yield b'{"model": "smollm2", "messages": [{"role": "user", "content": "'
                for _ in range(8):
                    yield b"x" * 512
                yield b'"}]}'

            assert_error(await http.post(CHAT, content=chunked()), 413, "payload_too_large")
            small = {"model": "nope", "messages": [{"role": "user", "content": "x"}]}
            assert_error(await http.post(CHAT, json=small), 404, "model_not_found")
