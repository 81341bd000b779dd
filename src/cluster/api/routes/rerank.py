"""Rerank (Cohere / Jina / vLLM shape, at ``/v1/rerank``, ``/v2/rerank`` and ``/rerank``) and vLLM's score."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import MediaDep, RerankAccess, ScoreAccess
from cluster.api.responses import served_response
from cluster.wire.openai import ErrorResponse
from cluster.wire.rerank import RerankRequest, RerankResponse, ScoreRequest, ScoreResponse

router = APIRouter(tags=["rerank"])
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 402, 403, 404, 413, 429, 502, 503)
}


@router.post("/v1/rerank", response_model=RerankResponse, responses=_ERRORS)
@router.post("/v2/rerank", response_model=RerankResponse, responses=_ERRORS, include_in_schema=False)
@router.post("/rerank", response_model=RerankResponse, responses=_ERRORS, include_in_schema=False)
async def rerank(body: RerankRequest, media: MediaDep, ctx: RerankAccess) -> Response:
    """The documents ordered by relevance to the query (``top_n`` of them), each with its index and score."""
    return served_response(await media.rerank(body, ctx), ctx)


@router.post("/v1/score", response_model=ScoreResponse, responses=_ERRORS)
@router.post("/score", response_model=ScoreResponse, responses=_ERRORS, include_in_schema=False)
async def score(body: ScoreRequest, media: MediaDep, ctx: ScoreAccess) -> Response:
    """A relevance score for ``text_1`` against each ``text_2`` (or for each pair)."""
    return served_response(await media.score(body, ctx), ctx)
