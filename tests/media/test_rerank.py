"""Rerank and score with the bundled embedding reranker: the relevant passage first, sorted, ``top_n``,
documents as strings or objects, Cohere's billed units; the score endpoint 1-to-N and N-to-N."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
module_loop = pytest.mark.asyncio(loop_scope="module")  # the module's app (tests/media/conftest.py)
DOCUMENTS = [
    "The capital gains tax applies when an asset is sold for more than it cost.",
    "Paris has been the capital city of France since the tenth century.",
    "A pride of lions usually hunts at night.",
    "Berlin is the largest city in Germany.",
]


@module_loop
@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank", "/rerank"])
async def test_the_relevant_passage_comes_first(local: httpx.AsyncClient, path: str) -> None:
    body = {"model": "rerank-e5", "query": "What is the capital of France?", "documents": DOCUMENTS}
    response = await local.post(path, json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    results = data["results"]
    assert results[0]["index"] == 1 and results[0]["document"] == {"text": DOCUMENTS[1]}
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores) and len(results) == 4
    assert data["model"] == "rerank-e5" and data["id"].startswith("rerank-")
    assert data["meta"]["billed_units"] == {"search_units": 1} and data["usage"]["prompt_tokens"] > 0


@module_loop
async def test_top_n_objects_and_no_documents(local: httpx.AsyncClient) -> None:
    documents = [{"text": d} for d in DOCUMENTS]
    body = {
        "model": "e5-small-rerank",
        "query": "big cats",
        "documents": documents,
        "top_k": 2,
        "return_documents": False,
    }
    results = (await local.post("/v1/rerank", json=body)).json()["results"]
    assert [r["index"] for r in results][:1] == [2] and len(results) == 2 and "document" not in results[0]


@module_loop
async def test_score_one_to_many_and_pairs(local: httpx.AsyncClient) -> None:
    one = await local.post("/v1/score", json={"model": "rerank-e5", "text_1": "lions hunting", "text_2": DOCUMENTS})
    assert one.status_code == 200, one.text
    scores = [d["score"] for d in one.json()["data"]]
    assert max(range(4), key=lambda i: scores[i]) == 2
    pairs = await local.post(
        "/score", json={"model": "rerank-e5", "text_1": ["French capital", "German city"], "text_2": DOCUMENTS[1:3]}
    )
    assert [d["index"] for d in pairs.json()["data"]] == [0, 1]


@module_loop
async def test_bad_rerank_requests(local: httpx.AsyncClient) -> None:
    base = {"model": "rerank-e5", "query": "q", "documents": ["a"]}
    for change, param in (
        ({"documents": []}, "documents"),
        ({"query": ""}, "query"),
        ({"top_n": -1}, "top_n"),
        ({"model": "whisper-1"}, "model"),
        ({"documents": [{"nope": 1}]}, None),
    ):
        response = await local.post("/v1/rerank", json={**base, **change})
        assert response.status_code == 400, (change, response.text)
        if param:
            assert response.json()["error"]["param"] == param
    bad = await local.post("/v1/score", json={"model": "rerank-e5", "text_1": ["a", "b"], "text_2": ["c"]})
    assert bad.status_code == 400


@module_loop
async def test_score_takes_long_single_texts(local: httpx.AsyncClient) -> None:
    long = "lions " * 400  # one text of 2,400 characters: the 1,000 limit counts texts in a list
    response = await local.post("/v1/score", json={"model": "rerank-e5", "text_1": long, "text_2": DOCUMENTS})
    assert response.status_code == 200, response.text


@module_loop
async def test_the_minilm_reranker_ranks_too(local: httpx.AsyncClient) -> None:
    body = {"model": "minilm-rerank", "query": "What is the capital of France?", "documents": DOCUMENTS}
    response = await local.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["index"] == 1
    assert response.headers["x-cluster-provider"] == "local-rerank-minilm"
    card = (await local.get("/v1/models/e5-small-rerank")).json()
    assert set(card["providers"]) == {"local-rerank", "local-rerank-minilm"}, "MiniLM: a low-weight route of e5"


def test_minilm_takes_over_when_e5_cannot_load(tmp_path: Path) -> None:
    """The e5 engine failing to load (a CPU without AVX2, a broken file) fails over to the MiniLM route."""
    from cluster.app import create_app
    from tests.conftest import make_settings
    from tests.support import ServerThread

    routes = {"e5-small-rerank": "e5-small-rerank"}
    broken = {"name": "e5", "kind": "e5_rerank", "model_path": str(tmp_path / "missing.bin"), "models": routes}
    fallback = {"name": "minilm", "kind": "minilm_rerank", "models": routes, "weight": 0.01}
    settings = make_settings(
        tmp_path,
        local={"enabled": False},
        providers=[broken, fallback],
        models=[{"id": "e5-small-rerank", "task": "rerank"}],
    )
    with ServerThread(create_app(settings)) as server:
        body = {"model": "e5-small-rerank", "query": "What is the capital of France?", "documents": DOCUMENTS}
        response = httpx.post(f"{server.url}/v1/rerank", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["x-cluster-provider"] == "minilm" and response.json()["results"][0]["index"] == 1
