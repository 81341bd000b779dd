from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import EmbeddingsAccess, InferenceDep
from cluster.api.responses import served_response
from cluster.wire.openai import EmbeddingRequest, EmbeddingResponse, ErrorResponse

router = APIRouter(prefix="/v1", tags=["inference"])


@router.post(
    "/embeddings",
    response_model=EmbeddingResponse,
    responses={code: {"model": ErrorResponse} for code in (400, 401, 402, 403, 404, 413, 429, 503)},
)
async def create_embeddings(body: EmbeddingRequest, inference: InferenceDep, ctx: EmbeddingsAccess) -> Response:
    return served_response(await inference.embed(body, ctx), ctx)
