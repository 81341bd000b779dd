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


async def test_models_list_every_bundled_modality_with_its_unit_price(client: httpx.AsyncClient) -> None:
    models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    speech = models["piper-en-us-joe"]
    assert speech["task"] == "tts" and "alloy" in speech["voices"] and speech["aliases"] == ["tts-1", "tts-1-hd"]
    assert speech["pricing"]["character"] > 0
    assert models["whisper-tiny.en"]["task"] == "stt" and models["whisper-tiny.en"]["pricing"]["second"] > 0
    assert models["whisper-base"]["task"] == "stt"
    rerank = models["e5-small-rerank"]
    assert (
        rerank["task"] == "rerank"
        and rerank["pricing"]["search"] > 0
        and "not a cross-encoder" in rerank["description"]
    )
    assert not [m for m in models.values() if m["task"] == "image"], "no image weights are bundled"
