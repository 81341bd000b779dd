"""Response helpers shared by routes and error handlers (orjson, no re-encoding of upstream bytes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from cluster.gateway.context import RequestContext, Served


def json_response(content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


def served_response(served: Served, ctx: RequestContext) -> Response:
    """A provider's answer as HTTP: its bytes untouched, plus which provider served it."""
    headers = {**ctx.headers, "x-cluster-provider": served.provider, "x-request-id": ctx.id}
    if served.events is not None:
        headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
        media_type = served.content_type or "text/event-stream"
        return _SettlingStream(served.events, served.close, media_type=media_type, headers=headers)
    return Response(served.body, media_type=served.content_type or "application/json", headers=headers)


class _SettlingStream(StreamingResponse):
    """A streaming response that settles its stream however the response ends: Starlette does not close a
    body iterator that never started (a client gone before the first event)."""

    def __init__(
        self, events: AsyncIterator[bytes], close: Callable[[], Awaitable[None]] | None, **kwargs: Any
    ) -> None:
        super().__init__(events, **kwargs)
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._close is not None:
                with anyio.CancelScope(shield=True):
                    await self._close()
