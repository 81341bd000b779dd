from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import InferenceDep
from cluster.api.responses import served_response
from cluster.gateway.protocol import EmbeddingRequest, EmbeddingResponse, ErrorResponse
from cluster.gateway.service import RequestContext

router = APIRouter(prefix="/v1", tags=["inference"])


@router.post(
    "/embeddings",
    response_model=EmbeddingResponse,
    responses={code: {"model": ErrorResponse} for code in (400, 404, 413, 429, 503)},
)
async def create_embeddings(body: EmbeddingRequest, inference: InferenceDep) -> Response:
    ctx = RequestContext(endpoint="embeddings")
    return served_response(await inference.embed(body, ctx), ctx)
