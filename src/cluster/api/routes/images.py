"""OpenAI image generation, and the images answered by ``url`` (fetchable with the key in their URL until they
expire; no API key needed, as with OpenAI's)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cluster.api.deps import ImagesAccess, MediaDep
from cluster.api.responses import served_response
from cluster.wire.images import ImageRequest, ImagesResponse
from cluster.wire.openai import ErrorResponse

router = APIRouter(prefix="/v1/images", tags=["images"])
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 402, 403, 404, 413, 429, 502, 503)
}


@router.post("/generations", response_model=ImagesResponse, responses=_ERRORS)
async def create_images(body: ImageRequest, request: Request, media: MediaDep, ctx: ImagesAccess) -> Response:
    return served_response(await media.images(body, ctx, str(request.base_url)), ctx)


@router.get(
    "/files/{image_id}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}, 404: {"model": ErrorResponse}},
)
async def image_file(image_id: str, media: MediaDep, key: str = Query(max_length=64)) -> Response:
    image, content_type, ttl = await media.image(image_id, key)
    return Response(image, media_type=content_type, headers={"cache-control": f"private, max-age={int(ttl)}"})
