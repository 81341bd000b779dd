import httpx


async def test_models_list_describes_each_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["data"]}
    chat = models["smollm2-135m-instruct"]
    assert chat["object"] == "model" and chat["owned_by"] == "HuggingFaceTB"
    assert chat["task"] == "chat" and chat["context_length"] == 2048
    # money on the HTTP API is integer micro-USDC everywhere (dataset prices, balances, model prices)
    assert chat["pricing"] == {
        "currency": "USDC",
        "decimals": 6,
        "input": 10_000,
        "output": 20_000,
        "character": 0,
        "second": 0,
        "image": 0,
        "search": 0,
    }
    assert chat["providers"] == ["local-llama"] and chat["tee"] is False
    embedding = models["all-minilm-l6-v2"]
    assert embedding["task"] == "embedding" and embedding["dimensions"] == 384


async def test_one_model_by_id_or_alias(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/models/smollm2")).json()["id"] == "smollm2-135m-instruct"
    assert (await client.get("/v1/models/nope")).json()["error"]["code"] == "model_not_found"


async def test_health_reports_providers(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["providers"]["local-llama"]["state"] == "closed"
    assert body["request_log"] == {"written": 0, "dropped": 0}


async def test_openapi_spec_documents_the_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/models", "/health"):
        assert path in spec["paths"]
    assert "ChatCompletionRequest" in spec["components"]["schemas"]
