"""Response helpers shared by routes and error handlers (orjson, no re-encoding of upstream bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from cluster.gateway.context import RequestContext, Served


def json_response(content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


def served_response(served: Served, ctx: RequestContext) -> Response:
    """A provider's answer as HTTP: its bytes untouched, plus which provider served it."""
    headers = {**ctx.headers, "x-cluster-provider": served.provider, "x-request-id": ctx.id}
    if served.events is not None:
        headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
        return StreamingResponse(served.events, media_type="text/event-stream", headers=headers)
    return Response(served.body, media_type="application/json", headers=headers)
