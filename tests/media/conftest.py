"""One app with the bundled speech, transcription and rerank models for the whole module (loading the models is
the slow part), reached through httpx and through OpenAI's own client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
import pytest_asyncio

from cluster.settings import Settings
from tests.conftest import Secured, make_settings, secured_app

CLIPS = Path(__import__("importlib").util.find_spec("moonshine_voice").submodule_search_locations[0]) / "assets"
#: the opening of A Tale of Two Cities as read in moonshine-voice's clip (MIT package, test-only)
TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was "
    "the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything before us, "
    "we had nothing before us, we were all going direct to Heaven, we were all going direct the other way - in "
    "short, the period was so far like the present period, that some of its noisiest authorities insisted on its "
    "being received, for good or for evil, in the superlative degree of comparison only."
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Secured]:
    settings = make_settings(tmp_path_factory.mktemp("media"), auth={"required": True})
    async for secured in secured_app(settings):
        secured.http.timeout = httpx.Timeout(120)
        yield secured


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def key(app: Secured) -> str:
    """A user with 1,000 USDC."""
    return (await app.new_user(credit=1_000_000_000))[1]


@pytest.fixture(scope="module")
def local(app: Secured, key: str) -> httpx.AsyncClient:
    """The app over ASGI, as that user."""
    app.http.headers["authorization"] = f"Bearer {key}"
    return app.http


@pytest.fixture(scope="module")
def client(local: httpx.AsyncClient, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url="http://cluster/v1", http_client=local, max_retries=0)


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Secured]:
    """One app's whole lifetime inside the test (its shutdown runs even when the test fails)."""
    apps = secured_app(settings)
    try:
        yield await anext(apps)
    finally:
        await apps.aclose()


def words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference's length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)
