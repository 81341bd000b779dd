from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import ChatAccess, InferenceDep
from cluster.api.responses import served_response
from cluster.wire.openai import ChatCompletion, ChatCompletionRequest, ErrorResponse

router = APIRouter(prefix="/v1", tags=["inference"])
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 402, 403, 404, 413, 429, 502, 503)
}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
async def create_chat_completion(body: ChatCompletionRequest, inference: InferenceDep, ctx: ChatAccess) -> Response:
    """OpenAI chat completions; with ``stream: true`` the answer is server-sent events."""
    return served_response(await inference.chat(body, ctx), ctx)
