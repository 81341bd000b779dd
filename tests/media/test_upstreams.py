"""Every modality routed to OpenAI-compatible upstreams (two mock upstreams answering with real media): failover
when the preferred one is down, images as b64_json and as a URL that works until it expires, each unit billed
exactly on SQLite and on PostgreSQL, and nothing about a request kept."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import openai
import pytest
from bench.mock_media import COLOURS, wav_tone
from PIL import Image
from sqlalchemy.exc import OperationalError

from cluster.settings import ProviderConfig
from tests.conftest import Secured, make_settings
from tests.media.conftest import serving
from tests.support import MockUpstream

MODELS = {"up-tts": "tts", "up-stt": "stt", "up-rerank": "rerank", "up-image": "image"}
PRICES = [
    {"id": "up-tts", "task": "tts", "character_price": 2_000_000},
    {"id": "up-stt", "task": "stt", "second_price": 300},
    {"id": "up-rerank", "task": "rerank", "search_price": 1_000, "input_price": 1_000_000},
    {"id": "up-image", "task": "image", "image_price": 40_000, "sizes": ["256x256", "1024x1024"]},
]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[MockUpstream, MockUpstream]]:
    a, b = MockUpstream("a").start(), MockUpstream("b").start()
    yield a, b
    a.kill()
    b.kill()


def _providers(a: MockUpstream, b: MockUpstream) -> list[ProviderConfig]:
    # a is preferred (weight), so a request meets it first while it is up
    return [
        ProviderConfig(name="a", base_url=a.url, models=MODELS, weight=100),
        ProviderConfig(name="b", base_url=b.url, models=MODELS, weight=1),
    ]


@pytest.fixture
async def gateway(
    tmp_path: Path, database_url: str, upstreams: tuple[MockUpstream, MockUpstream]
) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        auth={"required": True},
        local={"enabled": False},
        providers=_providers(*upstreams),
        models=PRICES,
        media={"image_url_ttl": 1.0},
    )
    async with serving(settings) as app:
        yield app


def client(app: Secured, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url="http://cluster/v1", http_client=app.http, max_retries=0)


async def balance(app: Secured, key: str) -> int:
    return int((await app.http.get("/v1/balance", headers=app.auth(key))).json()["available"])


async def test_each_unit_is_billed_exactly(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=10_000_000)
    openai_client = client(gateway, key)
    start = await balance(gateway, key)
    text = "Hello there, general Kenobi."  # 28 characters at 2 micro-USDC each
    speech = await openai_client.audio.speech.create(model="up-tts", voice="alloy", input=text, response_format="wav")
    assert speech.content.startswith(b"RIFF")
    assert await balance(gateway, key) == start - 2 * len(text)
    clip = wav_tone(2.5)  # 2.5 s, billed as 3 whole seconds
    transcript = await openai_client.audio.transcriptions.create(model="up-stt", file=("t.wav", clip))
    assert transcript.text.startswith("mock transcript")
    assert await balance(gateway, key) == start - 2 * len(text) - 3 * 300
    reranked = await gateway.http.post(
        "/v1/rerank",
        json={"model": "up-rerank", "query": "red apples", "documents": ["green pears", "red apples", "blue sky"]},
        headers=gateway.auth(key),
    )
    data = reranked.json()
    assert reranked.status_code == 200 and data["results"][0]["index"] == 1
    assert data["results"][0]["document"] == {"text": "red apples"}
    tokens = data["usage"]["prompt_tokens"]  # priced at 1 micro-USDC per token, plus the search
    assert await balance(gateway, key) == start - 2 * len(text) - 900 - 1_000 - tokens
    images = await openai_client.images.generate(
        model="up-image", prompt="a red square", n=2, size="256x256", response_format="b64_json"
    )
    assert len(images.data) == 2 and images.data[0].b64_json
    png = Image.open(io.BytesIO(base64.b64decode(images.data[0].b64_json)))
    assert png.format == "PNG"
    assert await balance(gateway, key) == start - 2 * len(text) - 900 - 1_000 - tokens - 2 * 40_000
    await gateway.app.state.services.request_log.flush()  # type: ignore[attr-defined]
    today = date.today()
    query = f"/v1/usage?start={today}&end={today}&group_by=model"
    usage = (await gateway.http.get(query, headers=gateway.auth(key))).json()
    by_model = {bucket["model"]: bucket for bucket in usage["data"]}
    assert by_model["up-image"]["cost"] == 80_000 and by_model["up-tts"]["cost"] == 2 * len(text)
    assert by_model["up-stt"]["cost"] == 900 and by_model["up-rerank"]["requests"] == 1


async def test_image_urls_work_until_they_expire(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=1_000_000)
    result = await client(gateway, key).images.generate(model="up-image", prompt="p")  # url: OpenAI's default
    url = result.data[0].url
    assert url and "/v1/images/files/img-" in url and "p" not in url.split("?")[0].rsplit("/", 1)[-1][4:]
    path = url.removeprefix("http://cluster")
    fetched = await gateway.http.get(path)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(fetched.content)).getpixel((0, 0)) in COLOURS.values()
    wrong_key = await gateway.http.get(path.split("key=")[0] + "key=" + "A" * 43)
    assert wrong_key.status_code == 404 and wrong_key.json()["error"]["code"] == "image_not_found"
    import asyncio

    await asyncio.sleep(1.2)  # image_url_ttl is 1 s here
    assert (await gateway.http.get(path)).status_code == 404
    swept = await gateway.app.state.services.media._images.sweep()  # type: ignore[attr-defined]
    assert swept >= 1


async def test_an_upstream_that_answers_urls_is_fetched(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=1_000_000)
    response = await gateway.http.post(
        "/v1/images/generations",
        json={"model": "up-image", "prompt": "p", "mock_url": True, "response_format": "b64_json"},
        headers=gateway.auth(key),
    )
    assert response.status_code == 200, response.text
    image = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert Image.open(io.BytesIO(image)).format == "PNG"


async def test_bad_image_requests(gateway: Secured) -> None:
    _, key = await gateway.new_user(credit=1_000_000)
    base = {"model": "up-image", "prompt": "p"}
    for change, param in (({"n": 11}, "n"), ({"n": 0}, "n"), ({"size": "big"}, "size"), ({"prompt": ""}, "prompt")):
        response = await gateway.http.post("/v1/images/generations", json={**base, **change}, headers=gateway.auth(key))
        assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text
    missing = await gateway.http.post(
        "/v1/images/generations", json={**base, "model": "dall-e-3"}, headers=gateway.auth(key)
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


@pytest.mark.slow
async def test_every_modality_fails_over_to_the_other_upstream(tmp_path: Path) -> None:
    a, b = MockUpstream("a").start(), MockUpstream("b").start()
    settings = make_settings(
        tmp_path, auth={"required": True}, local={"enabled": False}, providers=_providers(a, b), models=PRICES
    )
    try:
        async with serving(settings) as app:
            _, key = await app.new_user(credit=10_000_000)
            headers = app.auth(key)
            calls = [
                ("/v1/audio/speech", {"json": {"model": "up-tts", "voice": "alloy", "input": "hi"}}),
                (
                    "/v1/audio/transcriptions",
                    {"files": {"file": ("t.wav", wav_tone(1.0))}, "data": {"model": "up-stt"}},
                ),
                ("/v1/rerank", {"json": {"model": "up-rerank", "query": "q", "documents": ["a", "q"]}}),
                ("/v1/images/generations", {"json": {"model": "up-image", "prompt": "p"}}),
            ]
            for path, kwargs in calls:
                served = await app.http.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]
                assert served.status_code == 200 and served.headers["x-cluster-provider"] == "a", served.text
            a.kill()
            for path, kwargs in calls:
                served = await app.http.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]
                assert served.status_code == 200, (path, served.text)
                assert served.headers["x-cluster-provider"] == "b"
    finally:
        a.kill()
        b.kill()


async def test_a_failure_after_the_image_is_made_returns_the_hold(
    gateway: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await gateway.new_user(credit=1_000_000)
    services = gateway.app.state.services  # type: ignore[attr-defined]

    async def broken(*_: object) -> str:
        raise OperationalError("INSERT", {}, ConnectionRefusedError("the store's database went away"))

    monkeypatch.setattr(services.media._images, "put", broken)
    response = await gateway.http.post(
        "/v1/images/generations", json={"model": "up-image", "prompt": "p"}, headers=gateway.auth(key)
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "database_unavailable"
    assert await balance(gateway, key) == 1_000_000, "nothing charged, nothing left held"
    assert all(state["in_flight"] == 0 for state in services.inference.router.status().values())
