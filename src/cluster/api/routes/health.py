from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import ServicesDep
from cluster.api.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: ServicesDep) -> Response:
    """Liveness, each provider's breaker state, load and latency, and the request log's counters."""
    log = services.request_log
    return json_response(
        {
            "status": "ok",
            "providers": services.inference.router.status(),
            "request_log": {"written": log.written, "dropped": log.dropped},
        }
    )
