"""cluster_sdk against a running gateway, sync and async, plus its retry policy against a real server
that answers 429 twice before it succeeds."""

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import cluster_sdk
from cluster.app import create_app
from cluster_sdk import AsyncCluster, Cluster
from tests.conftest import make_settings, mock_provider
from tests.support import MockUpstream, ServerThread, bootstrap_admin

HI = [{"role": "user", "content": "Say hi."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("sdk")
    with ServerThread(create_app(make_settings(data))) as running:
        yield running


def test_exported_names() -> None:
    for name in cluster_sdk.__all__:
        assert hasattr(cluster_sdk, name), name
    assert not [
        n
        for n in dir(cluster_sdk)
        if not n.startswith("_") and n not in cluster_sdk.__all__ and n not in {"annotations"}
    ]


def test_sync_client(server: ServerThread) -> None:
    with Cluster(base_url=server.url) as client:
        reply = client.chat.completions.create(model="smollm2", messages=HI, max_tokens=8)
        assert reply.choices[0].message.content and reply.usage and reply.usage.total_tokens > 0
        chunks = list(client.chat.completions.create(model="smollm2", messages=HI, max_tokens=8, stream=True))
        assert any(c.choices and c.choices[0].delta.content for c in chunks)
        vectors = client.embeddings.create(model="all-minilm-l6-v2", input=["a", "b"])
        assert len(vectors.data[1].embedding) == 384
        assert "smollm2-135m-instruct" in {m.id for m in client.models.list()}


async def test_async_client(server: ServerThread) -> None:
    async with AsyncCluster(base_url=server.url + "/v1") as client:
        reply = await client.chat.completions.create(model="smollm2", messages=HI, max_tokens=8)
        assert reply.choices[0].message.role == "assistant"
        stream = await client.chat.completions.create(model="smollm2", messages=HI, max_tokens=8, stream=True)
        assert [c async for c in stream]
        assert (await client.models.retrieve("smollm2")).task == "chat"


def test_typed_errors(server: ServerThread) -> None:
    client = Cluster(base_url=server.url, max_retries=0)
    with pytest.raises(cluster_sdk.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=HI)
    assert info.value.status_code == 404 and info.value.code == "model_not_found" and info.value.param == "model"
    with pytest.raises(cluster_sdk.BadRequestError):
        client.embeddings.create(model="all-minilm-l6-v2", input=[])
    with pytest.raises(cluster_sdk.APIConnectionError):
        Cluster(base_url="http://127.0.0.1:9", max_retries=1).models.list()


class _Flaky(BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls <= 2:
            body = b'{"error": {"message": "slow down", "code": "rate_limit_exceeded"}}'
            self.send_response(429)
            self.send_header("retry-after", "0")
        else:
            body = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'
            self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_retries_429_then_gives_up_with_a_typed_error() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        assert [m.id for m in Cluster(base_url=url, max_retries=2).models.list()] == ["m"]
        assert _Flaky.calls == 3
        _Flaky.calls = 0
        with pytest.raises(cluster_sdk.RateLimitError) as info:
            Cluster(base_url=url, max_retries=1).models.list()
        assert info.value.code == "rate_limit_exceeded" and _Flaky.calls == 2
    finally:
        httpd.shutdown()


def test_keys_balance_and_usage(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        providers=[mock_provider("up", mock_upstream)],
        models=[{"id": "mock-model", "input_price": 1_000_000, "output_price": 2_000_000}],
    )
    _, admin_key = asyncio.run(bootstrap_admin(settings, credit=1_000_000))
    with ServerThread(create_app(settings)) as server, Cluster(base_url=server.url, api_key=admin_key) as client:
        created = client.keys.create(name="ci", scopes=["read"])
        assert created.key.startswith("sk-cluster-") and created.scopes == ["read"]
        assert created.id in {k.id for k in client.keys.list()}
        assert client.keys.revoke(created.id).revoked_at
        client.chat.completions.create(model="mock-model", messages=HI, max_tokens=8)
        assert client.balance.retrieve().available == 1_000_000 - 26
        time.sleep(0.3)  # the request log flushes every 20 ms in tests
        today = date.today().isoformat()
        assert client.usage.retrieve(start=today, end=today).total["cost"] == 26
        with pytest.raises(cluster_sdk.AuthenticationError):
            Cluster(base_url=server.url, api_key=created.key, max_retries=0).balance.retrieve()


def test_lists_are_pages_as_the_openai_client_returns_them(server: ServerThread) -> None:
    with Cluster(base_url=server.url) as client:
        page = client.models.list()
        assert isinstance(page, cluster_sdk.Page) and page.has_more is False and page.next_page() is None
        assert "smollm2-135m-instruct" in [m.id for m in page.data] == [m.id for m in page]


async def test_pages_walk_every_page_sync_and_async() -> None:
    from cluster_sdk import Page

    def pages(start: int) -> Page[int]:
        return Page([start, start + 1], start < 4, lambda: pages(start + 2))

    assert list(pages(0)) == [0, 1, 2, 3, 4, 5] and pages(0).data == [0, 1]

    async def fetched(start: int) -> Page[int]:
        return Page([start, start + 1], start < 4, lambda: fetched(start + 2))

    first = await fetched(0)
    assert [n async for n in first] == [0, 1, 2, 3, 4, 5]
    with pytest.raises(TypeError, match="async for"):
        list(first)


def test_money_takes_usdc_strings_decimals_or_micro_units() -> None:
    from decimal import Decimal

    from cluster_sdk import usdc

    assert usdc("0.01") == usdc(Decimal("0.01")) == usdc(10_000) == 10_000
    for wrong, error in (
        (0.01, TypeError),
        ("a lot", ValueError),
        ("0.0000001", ValueError),
        ("-1", ValueError),
        ("1e999999", ValueError),
        ("Infinity", ValueError),
    ):
        with pytest.raises(error):
            usdc(wrong)  # type: ignore[arg-type]
    wallet = cluster_sdk.Wallet("0x" + "11" * 32, max_payment="0.01", max_total=Decimal("2"))
    assert (wallet.max_payment, wallet.max_total) == (10_000, 2_000_000)
