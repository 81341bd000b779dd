"""The official ``openai`` client, pointed at Cluster, with no other change."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from cluster.app import create_app
from tests.conftest import make_settings
from tests.support import ServerThread, bootstrap_admin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str]]:
    data: Path = tmp_path_factory.mktemp("openai-e2e")
    settings = make_settings(data, auth={"required": True})
    _, key = asyncio.run(bootstrap_admin(settings, credit=10_000_000))
    with ServerThread(create_app(settings)) as running:
        yield running, key


@pytest.fixture
def client(server: tuple[ServerThread, str]) -> openai.OpenAI:
    running, key = server
    return openai.OpenAI(base_url=f"{running.url}/v1", api_key=key, max_retries=0)


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Say hi."}], max_completion_tokens=10
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens <= 10


def test_streaming_chat_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Count to three."}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="all-minilm-l6-v2", input=["one", "two"])
    assert [len(d.embedding) for d in result.data] == [384, 384]
    # The client's default asks for base64 when numpy is present; both decode to 384 floats.
    result = client.embeddings.create(model="all-minilm-l6-v2", input="one", encoding_format="base64")
    assert isinstance(result.data[0].embedding, str)


def test_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= ids
    assert client.models.retrieve("smollm2").id == "smollm2-135m-instruct"


def test_errors_map_to_the_clients_exception_types(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "x"}], temperature=5)


def test_a_wrong_key_is_refused(server: tuple[ServerThread, str]) -> None:
    running, _ = server
    client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="sk-cluster-" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "invalid_api_key"
